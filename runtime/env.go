package runtime

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/compose-spec/compose-go/v2/dotenv"
	"github.com/compose-spec/compose-go/v2/template"

	"github.com/composegen/composegen/runtime/composeplan"
	"github.com/composegen/composegen/runtime/internal/mask"
)

// resolver interpolates the plan's templates when the stack starts: options
// first, then the process environment, then the project's env files, in
// docker compose's order of precedence.
//
// Every value it resolves for a variable whose name says it is a secret is
// learned by the stack's masker, so that no message shows it.
type resolver struct {
	opts   map[string]string
	dotenv map[string]string
	mask   *mask.Masker
}

func newResolver(dir string, files []composeplan.EnvFile, opts map[string]string, m *mask.Masker) (*resolver, error) {
	r := &resolver{opts: opts, dotenv: map[string]string{}, mask: m}
	for _, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(f.Path))
		b, err := os.ReadFile(p)
		if err != nil {
			if os.IsNotExist(err) && !f.Required {
				continue
			}
			return nil, fmt.Errorf("env file %s: %w", p, err)
		}
		vals, err := dotenv.ParseWithLookup(bytes.NewReader(b), r.lookupNoDotenv)
		if err != nil {
			return nil, fmt.Errorf("env file %s: %w", p, err)
		}
		for k, v := range vals {
			r.dotenv[k] = v
			m.AddVar(k, v)
		}
	}
	for k, v := range opts {
		m.AddVar(k, v)
	}
	return r, nil
}

func (r *resolver) lookupNoDotenv(name string) (string, bool) {
	if v, ok := r.opts[name]; ok {
		return v, true
	}
	return os.LookupEnv(name)
}

func (r *resolver) lookup(name string) (string, bool) {
	v, ok := r.lookupNoDotenv(name)
	if !ok {
		v, ok = r.dotenv[name]
	}
	if ok {
		r.mask.AddVar(name, v)
	}
	return v, ok
}

// expand resolves one template. field names the value in errors.
func (r *resolver) expand(field, s string) (string, error) {
	if !containsDollar(s) {
		return s, nil
	}
	v, err := template.Substitute(s, r.lookup)
	if err != nil {
		return "", fmt.Errorf("%s: %w", field, err)
	}
	return v, nil
}

func (r *resolver) expandAll(field string, in []string) ([]string, error) {
	if in == nil {
		return nil, nil
	}
	out := make([]string, len(in))
	for i, s := range in {
		v, err := r.expand(fmt.Sprintf("%s[%d]", field, i), s)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

// expandMap resolves the values of m; nil for an empty map.
func (r *resolver) expandMap(field string, m map[string]string) (map[string]string, error) {
	if len(m) == 0 {
		return nil, nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		x, err := r.expand(field+"."+k, v)
		if err != nil {
			return nil, err
		}
		out[k] = x
	}
	return out, nil
}

func containsDollar(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '$' {
			return true
		}
	}
	return false
}

// serviceEnv computes a service's environment: its env files in order, then
// its environment entries, all interpolated.
func (r *resolver) serviceEnv(dir string, spec *composeplan.ServiceSpec) (map[string]string, error) {
	env := map[string]string{}
	for _, f := range spec.EnvFiles {
		p := filepath.Join(dir, filepath.FromSlash(f.Path))
		b, err := os.ReadFile(p)
		if err != nil {
			if os.IsNotExist(err) && !f.Required {
				continue
			}
			return nil, fmt.Errorf("env_file %s: %w", f.Path, err)
		}
		var vals map[string]string
		if f.Format == "raw" {
			vals, err = parseRawEnv(b)
		} else {
			vals, err = dotenv.ParseWithLookup(bytes.NewReader(b), r.lookup)
		}
		if err != nil {
			return nil, fmt.Errorf("env_file %s: %w", f.Path, err)
		}
		for k, v := range vals {
			env[k] = v
		}
	}
	for _, e := range spec.Environment {
		if e.FromEnv {
			if v, ok := r.lookup(e.Name); ok {
				env[e.Name] = v
			}
			continue
		}
		v, err := r.expand("environment."+e.Name, e.Value)
		if err != nil {
			return nil, err
		}
		env[e.Name] = v
	}
	r.mask.AddEnv(env)
	return env, nil
}

func parseRawEnv(b []byte) (map[string]string, error) {
	out := map[string]string{}
	for _, line := range bytes.Split(b, []byte("\n")) {
		line = bytes.TrimRight(line, "\r")
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		k, v, ok := bytes.Cut(line, []byte("="))
		if !ok {
			return nil, fmt.Errorf("line %q: want NAME=value", line)
		}
		out[string(k)] = string(v)
	}
	return out, nil
}

func envList(env map[string]string) []string {
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}
