package load

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

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
// every service's env files that exist now and are committed: a file that
// git ignores (a developer's .env) is machine-local, and the output must not
// depend on it, so its variables get no Env field (a note says so). A file
// that cannot be parsed is warned about and skipped; the runtime reports it
// again at start.
func (res *Result) readEnvFileVars(ctx context.Context) {
	res.EnvFileVars = map[string][]string{}
	ignored := res.gitIgnored(ctx, res.envFilePaths())
	for _, name := range res.Project.ServiceNames() {
		s := res.Project.Services[name]
		for i, ef := range s.EnvFiles {
			if _, done := res.EnvFileVars[ef.Path]; done {
				continue
			}
			field := "env_file[" + strconv.Itoa(i) + "]"
			if ignored[ef.Path] {
				res.EnvFileVars[ef.Path] = nil
				pos, _ := res.Positions.Service(name, field)
				res.Diagnostics = append(res.Diagnostics, diag.Diagnostic{
					Severity: diag.Note, File: res.display(pos.File), Line: pos.Line, Column: pos.Column, Service: name, Field: field,
					Group:   "ignored-env-file",
					Summary: "git-ignored env files give no Env fields: declare what tests read in environment, or commit them",
					Message: fmt.Sprintf("%s is ignored by git: its variables get no Env field", res.display(ef.Path)),
					Hint:    "declare the variables the tests read in environment, or commit the env file",
					Detail:  "The generated file must not depend on a local file; the variables are still read when the stack starts.",
				})
				continue
			}
			data, err := os.ReadFile(ef.Path)
			if err != nil {
				continue // optional or created later: checked at start
			}
			names, err := envFileNames(data, res.Vars.Template(ef.Format) == "raw")
			if err != nil {
				pos, _ := res.Positions.Service(name, field)
				res.Diagnostics = append(res.Diagnostics, diag.Diagnostic{
					Severity: diag.Warning, File: res.display(pos.File), Line: pos.Line, Column: pos.Column, Service: name,
					Field:   field,
					Message: fmt.Sprintf("%s: %v; its variables get no Env field", res.display(ef.Path), err),
				})
				continue
			}
			res.EnvFileVars[ef.Path] = names
		}
	}
}

// envFilePaths returns the services' env files that exist.
func (res *Result) envFilePaths() []string {
	var paths []string
	for _, s := range res.Project.Services {
		for _, ef := range s.EnvFiles {
			if st, err := os.Stat(ef.Path); err == nil && !st.IsDir() {
				paths = append(paths, ef.Path)
			}
		}
	}
	slices.Sort(paths)
	return slices.Compact(paths)
}

// gitIgnored returns which of paths git ignores, asking git about the
// project directory's repository. Without git or a repository, none.
func (res *Result) gitIgnored(ctx context.Context, paths []string) map[string]bool {
	out := map[string]bool{}
	if len(paths) == 0 {
		return out
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "git", append([]string{"-C", res.ProjectDir, "check-ignore", "--"}, paths...)...)
	// Exit status 1 means none is ignored, 128 no repository: both leave
	// out empty.
	stdout, _ := cmd.Output()
	for _, line := range strings.Split(string(stdout), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			if !filepath.IsAbs(line) {
				line = filepath.Join(res.ProjectDir, line)
			}
			out[filepath.Clean(line)] = true
		}
	}
	return out
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
