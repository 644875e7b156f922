package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/template"
	"github.com/ory/dockertest/v3"

	"github.com/composegen/composegen/cmd/composegen/internal/load"
	"github.com/composegen/composegen/cmd/composegen/internal/model"
	"github.com/composegen/composegen/cmd/composegen/internal/testcorpus"
	"github.com/composegen/composegen/runtime/composeplan"
)

// TestCorpusStart generates fixtures for the awesome-compose corpus and runs
// the generated Start against real containers, for every service that can
// run on this machine: its image is present locally (pulls fail here), it
// needs no build (the corpus holds only the compose files and the .env and
// secret files, not the build contexts), the files it binds or reads
// (bind mounts, env_file, secrets, configs) exist, and so does every service
// it requires through depends_on. Each project starts those services with
// runtime.WithServices.
//
// No corpus project qualifies as a whole. With the stand-in images of
// ../shared/dockerenv, the services that do are (the test computes the list
// and logs it):
//
//   - gitea-postgres: db (postgres:alpine, named volume); gitea needs
//     gitea/gitea.
//   - nextcloud-postgres: db (postgres:alpine); nextcloud needs nextcloud.
//   - nextcloud-redis-mariadb: redis (redis:alpine); db needs mariadb:10.5,
//     nc needs nextcloud.
//   - nginx-golang-postgres: db (postgres with a secret file, user:
//     postgres, POSTGRES_PASSWORD_FILE, healthcheck); backend is built from
//     a context the corpus lacks, proxy binds a missing nginx.conf.
//   - postgresql-pgadmin: postgres (postgres:latest, credentials from
//     .env); pgadmin needs dpage/pgadmin4.
//   - spring-postgres: db (postgres with a secret file and healthcheck);
//     backend is built.
//
// The others use only images that are absent here (elasticsearch, mongo,
// mariadb:10.x, wordpress, traefik, prom/*, grafana, linuxserver/*,
// portainer, pihole, redpanda, azure-sql-edge, redislabs/redismod, ...),
// build every service from missing contexts (angular, django, flask,
// fastapi, react-*, vuejs, sparkjava, ...), or have services with local
// images that bind-mount missing files or depend on such services (the
// nginx proxies of nginx-golang, nginx-flask-mongo, wasmedge-mysql-nginx).
func TestCorpusStart(t *testing.T) {
	requireDocker(t)
	corpus := testcorpus.Dir(t)
	pool, err := dockertest.NewPool("")
	if err != nil {
		t.Fatal(err)
	}
	present := map[string]bool{}
	imagePresent := func(image string) bool {
		if v, ok := present[image]; ok {
			return v
		}
		_, err := pool.Client.InspectImage(image)
		present[image] = err == nil
		return err == nil
	}

	var files []string
	for _, pat := range []string{"*/compose.yaml", "*/compose.yml", "*/docker-compose.yaml", "*/docker-compose.yml"} {
		m, _ := filepath.Glob(filepath.Join(corpus, pat))
		files = append(files, m...)
	}
	sort.Strings(files)
	module := map[string]string{}
	var summary []string
	for _, f := range files {
		project := filepath.Base(filepath.Dir(f))
		services, why := startable(t, f, imagePresent)
		if len(services) == 0 {
			continue
		}
		summary = append(summary, fmt.Sprintf("%s: %s (not: %s)", project, strings.Join(services, ", "), strings.Join(why, "; ")))
		pkg := "corpus_" + strings.NewReplacer("-", "_", ".", "_").Replace(project)
		module["fixtures/"+pkg+"/gen.go"] = "package " + pkg + "\n\n//go:generate go run github.com/composegen/composegen/cmd/composegen -f " + f + "\n"
		module["fixtures/"+pkg+"/start_test.go"] = fmt.Sprintf(corpusStartTest, pkg, quoteList(services))
	}
	t.Logf("startable corpus services:\n\t%s", strings.Join(summary, "\n\t"))
	if len(summary) < 3 {
		t.Fatalf("only %d corpus projects have startable services; the stand-in images should allow more", len(summary))
	}
	_, gocmd := newE2EModule(t, module)
	gocmd("generate", "./...")
	gocmd("vet", "./...")
	out := gocmd("test", "-count=1", "-p=2", "-v", "./...")
	if n := strings.Count(out, "--- PASS: TestCorpusStart"); n != len(summary) {
		t.Errorf("%d of %d corpus projects started:\n%s", n, len(summary), out)
	}
}

const corpusStartTest = `package %s

import (
	"net"
	"testing"
	"time"

	"github.com/composegen/composegen/runtime"
)

func TestCorpusStart(t *testing.T) {
	t.Parallel()
	services := []string{%s}
	stack := Start(t, runtime.WithServices(services...))
	for _, name := range services {
		svc := stack.Runtime().Service(name)
		if svc == nil {
			t.Fatalf("service %%s not started", name)
		}
		for _, port := range svc.Ports() {
			if port.Protocol != "tcp" {
				continue
			}
			c, err := net.DialTimeout("tcp", port.Addr(), 2*time.Second)
			if err != nil {
				t.Errorf("%%s: port %%d: %%v", name, port.Target, err)
				continue
			}
			c.Close()
		}
	}
}
`

func quoteList(s []string) string {
	q := make([]string, len(s))
	for i, v := range s {
		q[i] = strconv.Quote(v)
	}
	return strings.Join(q, ", ")
}

// startable returns the services of compose file f that can start here
// (with their required dependencies), and why the others cannot.
func startable(t *testing.T, f string, imagePresent func(string) bool) (ok []string, why []string) {
	t.Helper()
	dir := filepath.Dir(f)
	r, err := load.Load(context.Background(), load.Options{Files: []string{f}, WorkDir: dir, OutDir: dir, Environ: []string{}})
	if err != nil {
		t.Fatalf("%s: %v", f, err)
	}
	p, err := model.Build(r, model.BuildOptions{Package: "x"})
	if err != nil {
		t.Fatalf("%s: %v", f, err)
	}
	plan := &p.Plan
	dotenv := map[string]string{}
	if b, err := os.ReadFile(filepath.Join(dir, ".env")); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok {
				dotenv[k] = v
			}
		}
	}
	lookup := func(k string) (string, bool) { v, ok := dotenv[k]; return v, ok }
	exists := func(rel string) bool {
		if rel == "" {
			return false
		}
		p := rel
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, filepath.FromSlash(rel))
		}
		_, err := os.Stat(p)
		return err == nil
	}
	fileSpec := func(list []composeplan.FileSpec, name string) *composeplan.FileSpec {
		for i := range list {
			if list[i].Name == name {
				return &list[i]
			}
		}
		return nil
	}
	reason := map[string]string{}
	for _, s := range plan.Services {
		image, err := template.Substitute(s.Image, lookup)
		switch {
		case s.Build != nil:
			reason[s.Name] = "built from a context the corpus lacks"
		case err != nil || !imagePresent(image):
			reason[s.Name] = "image " + image + " is not present"
		}
		for _, m := range s.Mounts {
			if m.Type == "bind" && !exists(m.Source) {
				reason[s.Name] = "binds missing " + m.Source
			}
		}
		for _, e := range s.EnvFiles {
			if e.Required && !exists(e.Path) {
				reason[s.Name] = "missing env_file " + e.Path
			}
		}
		for _, ref := range s.Secrets {
			if fs := fileSpec(plan.Secrets, ref.Source); fs == nil || fs.File == "" || !exists(fs.File) {
				reason[s.Name] = "secret " + ref.Source + " has no file here"
			}
		}
		for _, ref := range s.Configs {
			if fs := fileSpec(plan.Configs, ref.Source); fs == nil || (fs.File != "" && !exists(fs.File)) {
				reason[s.Name] = "config " + ref.Source + " has no file here"
			}
		}
		for _, v := range plan.Volumes {
			for _, m := range s.Mounts {
				if m.Source == v.Name && v.External {
					reason[s.Name] = "external volume " + v.Name
				}
			}
		}
	}
	// A service whose required dependency cannot start cannot either.
	for changed := true; changed; {
		changed = false
		for _, s := range plan.Services {
			if reason[s.Name] != "" {
				continue
			}
			for _, d := range s.DependsOn {
				if r := reason[d.Service]; r != "" && d.Required {
					reason[s.Name] = "depends on " + d.Service
					changed = true
				}
			}
		}
	}
	for _, s := range plan.Services {
		if r := reason[s.Name]; r != "" {
			why = append(why, s.Name+": "+r)
		} else {
			ok = append(ok, s.Name)
		}
	}
	return ok, why
}
