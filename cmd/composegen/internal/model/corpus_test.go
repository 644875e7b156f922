package model

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/composegen/composegen/cmd/composegen/internal/load"
	"github.com/composegen/composegen/cmd/composegen/internal/testcorpus"
)

// rejected lists corpus files that are rightly refused, with the expected
// error substring.
var rejected = map[string]string{}

func TestCorpus(t *testing.T) {
	corpus := testcorpus.Dir(t)
	files := testcorpus.Files(t)
	if len(files) < 39 {
		t.Errorf("found %d corpus files, want at least 39", len(files))
	}
	for _, f := range files {
		name, _ := filepath.Rel(corpus, f)
		name = filepath.ToSlash(name)
		t.Run(name, func(t *testing.T) {
			r, err := load.Load(context.Background(), load.Options{Files: []string{f}, WorkDir: filepath.Dir(f), Environ: []string{}})
			if err == nil {
				var p *Project
				p, err = Build(r, BuildOptions{Package: "fixtures"})
				if err == nil {
					checkProject(t, p)
					for _, w := range p.Diagnostics {
						t.Logf("warning: %s", w)
					}
				}
			}
			if want, ok := rejected[name]; ok {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Fatalf("err = %v, want one containing %q", err, want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

// checkProject checks invariants every model must hold.
func checkProject(t *testing.T, p *Project) {
	t.Helper()
	if len(p.Services) != len(p.Plan.Services) || len(p.Services) == 0 {
		t.Fatalf("%d services, %d specs", len(p.Services), len(p.Plan.Services))
	}
	if filepath.IsAbs(p.Plan.Dir) {
		t.Errorf("absolute Dir %s", p.Plan.Dir)
	}
	seen := map[string]bool{}
	for i, s := range p.Services {
		if s.Name != p.Plan.Services[i].Name {
			t.Errorf("service %d: %s vs %s", i, s.Name, p.Plan.Services[i].Name)
		}
		if i > 0 && p.Services[i-1].Name >= s.Name {
			t.Errorf("services not sorted: %s, %s", p.Services[i-1].Name, s.Name)
		}
		for _, id := range []string{s.TypeName, s.StartName, s.EnvTypeName, s.ConstName} {
			if seen[id] || id == "" {
				t.Errorf("package-level name %q repeated or empty", id)
			}
			seen[id] = true
		}
		for _, m := range p.Plan.Services[i].Mounts {
			if m.Type == "bind" && strings.HasPrefix(m.Source, "/work") {
				t.Errorf("service %s: absolute bind source %s", s.Name, m.Source)
			}
		}
		if b := p.Plan.Services[i].Build; b != nil && filepath.IsAbs(b.Context) {
			t.Errorf("service %s: absolute build context %s", s.Name, b.Context)
		}
		methods := map[string]bool{}
		for _, m := range FixedMethods {
			methods[m] = true
		}
		for _, m := range s.Methods {
			if methods[m.Name] {
				t.Errorf("service %s: method %s repeated", s.Name, m.Name)
			}
			methods[m.Name] = true
		}
	}
}
