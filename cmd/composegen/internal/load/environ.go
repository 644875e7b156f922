package load

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/dotenv"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/composegen/composegen/cmd/composegen/internal/diag"
)

// environment returns the generating environment, used only for the fields
// resolved at generation: the process environment, then the env files
// (--env-file, else the project's .env), which do not override the process
// environment, as in docker compose.
func (res *Result) environment(opts Options) (types.Mapping, error) {
	environ := opts.Environ
	if environ == nil {
		environ = os.Environ()
	}
	env := types.Mapping{}
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		if k != "" {
			env[k] = v
		}
	}
	var files []string
	for _, f := range opts.EnvFiles {
		if !filepath.IsAbs(f) {
			f = filepath.Join(res.WorkDir, f)
		}
		files = append(files, filepath.Clean(f))
	}
	res.EnvFiles = files
	if len(files) == 0 {
		if st, err := os.Stat(filepath.Join(res.ProjectDir, ".env")); err == nil && !st.IsDir() {
			files = []string{filepath.Join(res.ProjectDir, ".env")}
		}
	}
	if len(files) > 0 {
		fromFiles, err := dotenv.GetEnvFromFile(env, files)
		if err != nil {
			return nil, diag.Errors{{Severity: diag.Error, Message: "env file: " + res.cleanMessage(err.Error()), Hint: "check --env-file and the project's .env"}}
		}
		env.Merge(fromFiles)
	}
	return env, nil
}

// readEnvFileVars reads the names (never the values) of the variables of
// every service's env files that exist now. A file that cannot be parsed
// is warned about and skipped; the runtime reports it again at start.
func (res *Result) readEnvFileVars() {
	res.EnvFileVars = map[string][]string{}
	for _, name := range res.Project.ServiceNames() {
		s := res.Project.Services[name]
		for i, ef := range s.EnvFiles {
			if _, done := res.EnvFileVars[ef.Path]; done {
				continue
			}
			data, err := os.ReadFile(ef.Path)
			if err != nil {
				continue // optional or created later: checked at start
			}
			names, err := envFileNames(data, res.Vars.Template(ef.Format) == "raw")
			if err != nil {
				pos, _ := res.Positions.Service(name, "env_file["+strconv.Itoa(i)+"]")
				res.Diagnostics = append(res.Diagnostics, diag.Diagnostic{
					Severity: diag.Warning, File: res.display(pos.File), Line: pos.Line, Service: name,
					Field:   "env_file[" + strconv.Itoa(i) + "]",
					Message: fmt.Sprintf("%s: %v; its variables get no Env field", res.display(ef.Path), err),
				})
				continue
			}
			res.EnvFileVars[ef.Path] = names
		}
	}
}

// envFileNames returns the sorted names of the variables of an env file.
func envFileNames(data []byte, raw bool) ([]string, error) {
	var names []string
	if raw {
		sc := bufio.NewScanner(bytes.NewReader(data))
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			if k, _, ok := strings.Cut(line, "="); ok {
				names = append(names, k)
			}
		}
	} else {
		vals, err := dotenv.ParseWithLookup(bytes.NewReader(data), func(string) (string, bool) { return "", false })
		if err != nil {
			return nil, err
		}
		for k := range vals {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	return slices.Compact(names), nil
}
