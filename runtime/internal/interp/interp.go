// Package interp resolves a stack's variables when it starts, as docker
// compose does: it interpolates the plan's templates (${VAR},
// ${VAR:-default}, ${VAR:?error}...) from the options, then the process
// environment, then the project's .env files, in that order of precedence;
// it reads the services' env_file entries and computes each service's
// environment; and every value it resolves for a variable whose name (or
// the value's shape) says it is a secret is learned by the stack's masker,
// so that no message shows it. It reads files but starts nothing and talks
// to no engine; the plan's shape and what a value means are the caller's.
package interp

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/compose-spec/compose-go/v2/dotenv"
	"github.com/compose-spec/compose-go/v2/template"

	"github.com/composegen/composegen/runtime/composeplan"
	"github.com/composegen/composegen/runtime/internal/mask"
)

// Resolver interpolates the plan's templates of one start. It is safe for
// concurrent use: after New it only reads, and its masker is safe for
// concurrent use.
type Resolver struct {
	opts   map[string]string
	dotenv map[string]string
	mask   *mask.Masker
}

// New reads the project's env files (files, relative to dir; a missing one
// is an error only when it is required) and returns their resolver. opts
// are the variables set by options, which win over the process environment
// and the env files. The masker m (nil for none) learns the secrets of
// opts and of the env files at once, and those of every value Lookup
// resolves later.
func New(dir string, files []composeplan.EnvFile, opts map[string]string, m *mask.Masker) (*Resolver, error) {
	r := &Resolver{opts: opts, dotenv: map[string]string{}, mask: m}
	for _, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(f.Path))
		b, ok, err := readEnvFile(p, f.Required)
		if err != nil {
			return nil, fmt.Errorf("env file %s: %w", p, err)
		}
		if !ok {
			continue
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

// readEnvFile reads the env file p; ok is false for a missing file that is
// not required.
func readEnvFile(p string, required bool) (b []byte, ok bool, err error) {
	b, err = os.ReadFile(p)
	if err != nil {
		if os.IsNotExist(err) && !required {
			return nil, false, nil
		}
		return nil, false, err
	}
	return b, true, nil
}

func (r *Resolver) lookupNoDotenv(name string) (string, bool) {
	if v, ok := r.opts[name]; ok {
		return v, true
	}
	return os.LookupEnv(name)
}

// Lookup returns the value of the variable name: an option's, else the
// process environment's, else the project's env files'. The masker learns
// the value when it is a secret.
func (r *Resolver) Lookup(name string) (string, bool) {
	v, ok := r.lookupNoDotenv(name)
	if !ok {
		v, ok = r.dotenv[name]
	}
	if ok {
		r.mask.AddVar(name, v)
	}
	return v, ok
}

// Expand resolves one template. field names the value in errors (for
// example "environment.PGPASSWORD" or "ports.host_ip"): an error reads
// "field: what is wrong". A string without $ is returned as it is.
func (r *Resolver) Expand(field, s string) (string, error) {
	if strings.IndexByte(s, '$') < 0 {
		return s, nil
	}
	v, err := template.Substitute(s, r.Lookup)
	if err != nil {
		return "", fmt.Errorf("%s: %w", field, err)
	}
	return v, nil
}

// ExpandAll resolves each template of in; its errors name field[i]. A nil
// slice stays nil.
func (r *Resolver) ExpandAll(field string, in []string) ([]string, error) {
	if in == nil {
		return nil, nil
	}
	out := make([]string, len(in))
	for i, s := range in {
		v, err := r.Expand(fmt.Sprintf("%s[%d]", field, i), s)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

// ExpandMap resolves the values of m (not its keys); its errors name
// field.key. An empty map gives nil.
func (r *Resolver) ExpandMap(field string, m map[string]string) (map[string]string, error) {
	if len(m) == 0 {
		return nil, nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		x, err := r.Expand(field+"."+k, v)
		if err != nil {
			return nil, err
		}
		out[k] = x
	}
	return out, nil
}

// ServiceEnv computes a service's environment: its env files in order (a
// later file wins; a missing one is an error only when it is required;
// format "raw" takes each NAME=value line as it is, otherwise the dotenv
// syntax is interpolated), then its environment entries, interpolated,
// which win over the env files. An entry without a value takes the
// variable's value from Lookup and is left out when it is unset. The masker
// learns the secrets of the result.
func (r *Resolver) ServiceEnv(dir string, spec *composeplan.ServiceSpec) (map[string]string, error) {
	env := map[string]string{}
	for _, f := range spec.EnvFiles {
		b, ok, err := readEnvFile(filepath.Join(dir, filepath.FromSlash(f.Path)), f.Required)
		if err != nil {
			return nil, fmt.Errorf("env_file %s: %w", f.Path, err)
		}
		if !ok {
			continue
		}
		var vals map[string]string
		if f.Format == "raw" {
			vals, err = parseRawEnv(b)
		} else {
			vals, err = dotenv.ParseWithLookup(bytes.NewReader(b), r.Lookup)
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
			if v, ok := r.Lookup(e.Name); ok {
				env[e.Name] = v
			}
			continue
		}
		v, err := r.Expand("environment."+e.Name, e.Value)
		if err != nil {
			return nil, err
		}
		env[e.Name] = v
	}
	r.mask.AddEnv(env)
	return env, nil
}

// parseRawEnv reads an env file of format raw: NAME=value lines taken as
// they are, blank lines and # comments skipped. An error names the line by
// its number, not its text, which may hold a secret.
func parseRawEnv(b []byte) (map[string]string, error) {
	out := map[string]string{}
	for i, line := range bytes.Split(b, []byte("\n")) {
		line = bytes.TrimRight(line, "\r")
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		k, v, ok := bytes.Cut(line, []byte("="))
		if !ok {
			return nil, fmt.Errorf("line %d: want NAME=value", i+1)
		}
		out[string(k)] = string(v)
	}
	return out, nil
}

// List returns env as NAME=value entries in name order, for a container's
// spec.
func List(env map[string]string) []string {
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}
