// Package load is the first stage of composegen: it loads compose files with
// compose-go exactly as docker compose does (override files, extends,
// include, anchors, profiles, .env and interpolation) while keeping every
// variable expression as a template, so that no value from the generating
// machine's environment ends up in the generated code.
//
// compose-go interpolates with a Substitute function of ours that replaces
// each variable expression by a token (see Vars). Strings of the loaded
// project therefore hold tokens, which Vars.Template turns back into the
// expressions as written. Fields that compose-go must parse at load time
// (published ports, durations, sizes, include paths, profiles...) are
// resolved with the real environment instead, and a warning says that the
// field's value was fixed at generation time.
package load

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/compose-spec/compose-go/v2/dotenv"
	"github.com/compose-spec/compose-go/v2/format"
	interp "github.com/compose-spec/compose-go/v2/interpolation"
	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/tree"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/sirupsen/logrus"
)

// DefaultFileNames are the compose file names discovered when no file is
// given, in docker compose's order of preference.
var DefaultFileNames = []string{"compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml"}

// DefaultOverrideFileNames are the override files docker compose adds to a
// discovered compose file, in order of preference.
var DefaultOverrideFileNames = []string{"compose.override.yaml", "compose.override.yml", "docker-compose.override.yaml", "docker-compose.override.yml"}

// Options configure Load.
type Options struct {
	// Files are the compose files, merged in order. Relative paths are
	// relative to WorkDir. When empty, Load discovers compose.yaml (and the
	// other DefaultFileNames) plus its override file in WorkDir and then its
	// parents, like docker compose.
	Files []string
	// WorkDir is the directory relative paths are resolved against, and
	// where discovery starts. Default: the process's working directory.
	WorkDir string
	// EnvFiles replace the project's .env file for interpolation, like
	// docker compose --env-file. Relative to WorkDir.
	EnvFiles []string
	// Profiles are the profiles active by default. All services are loaded
	// whatever the profiles; profiles only select what starts by default.
	Profiles []string
	// ProjectName overrides the project name (compose's -p).
	ProjectName string
	// Environ is the environment used to resolve the few fields that must be
	// resolved at generation time; nil means os.Environ().
	Environ []string
}

// Result is a loaded compose project.
type Result struct {
	// Project is compose-go's project. Its strings hold variable tokens:
	// use Vars.Template to get the compose template text back. All services
	// are enabled, whatever their profiles.
	Project *types.Project
	// Files are the absolute paths of the compose files in merge order.
	Files []string
	// ProjectDir is the absolute project directory (the first file's).
	ProjectDir string
	// EnvFiles are the absolute paths of the env files used for
	// interpolation: the --env-file files, or the project's .env when it
	// exists.
	EnvFiles []string
	// DefaultEnvFile is true when EnvFiles is the implicit project .env.
	DefaultEnvFile bool
	// Profiles are the profiles given in Options.
	Profiles []string
	// Vars maps the tokens of Project back to templates.
	Vars *Vars
	// Positions locates services and fields in the compose files.
	Positions *Positions
	// Warnings found while loading.
	Warnings []Warning
}

// Warning is a non-fatal problem found while loading.
type Warning struct {
	Pos     Pos
	Service string
	Field   string
	Message string
}

// Error is a load error located in a compose file.
type Error struct {
	// Pos is the location (File may be empty when unknown).
	Pos     Pos
	Service string
	Field   string
	// Err is the underlying error (compose-go's, usually).
	Err error
	// Hint says what to do.
	Hint string
	// rel is the file name shown in the message.
	rel string
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.rel != "" {
		b.WriteString(e.rel)
		if e.Pos.Line > 0 {
			fmt.Fprintf(&b, ":%d", e.Pos.Line)
			if e.Pos.Column > 0 {
				fmt.Fprintf(&b, ":%d", e.Pos.Column)
			}
		}
		b.WriteString(": ")
	}
	if e.Service != "" {
		fmt.Fprintf(&b, "service %q: ", e.Service)
	}
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	b.WriteString(e.Err.Error())
	if e.Hint != "" {
		b.WriteString(" (" + e.Hint + ")")
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// ErrNoComposeFile is returned when discovery finds no compose file.
var ErrNoComposeFile = errors.New("no compose file found")

// Discover finds the compose file and its override in dir or the nearest
// parent that has one, exactly like docker compose. When several names
// match, the first in DefaultFileNames order wins and a warning is returned.
func Discover(dir string) (files []string, warnings []string, err error) {
	dir, err = filepath.Abs(dir)
	if err != nil {
		return nil, nil, err
	}
	for d := dir; ; {
		found := existing(d, DefaultFileNames)
		if len(found) > 0 {
			if len(found) > 1 {
				warnings = append(warnings, fmt.Sprintf("found multiple compose files (%s), using %s", strings.Join(found, ", "), found[0]))
			}
			files = append(files, found[0])
			if ov := existing(d, DefaultOverrideFileNames); len(ov) > 0 {
				if len(ov) > 1 {
					warnings = append(warnings, fmt.Sprintf("found multiple override files (%s), using %s", strings.Join(ov, ", "), ov[0]))
				}
				files = append(files, ov[0])
			}
			return files, warnings, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return nil, warnings, fmt.Errorf("%w in %s or its parents (looked for %s; use -f FILE)", ErrNoComposeFile, dir, strings.Join(DefaultFileNames, ", "))
		}
		d = parent
	}
}

func existing(dir string, names []string) []string {
	var out []string
	for _, n := range names {
		p := filepath.Join(dir, n)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			out = append(out, p)
		}
	}
	return out
}

// logMu serialises loads: compose-go logs through logrus's global logger,
// which Load redirects into the result's warnings.
var logMu sync.Mutex

type logHook struct{ msgs []string }

func (h *logHook) Levels() []logrus.Level {
	return []logrus.Level{logrus.PanicLevel, logrus.FatalLevel, logrus.ErrorLevel, logrus.WarnLevel}
}

func (h *logHook) Fire(e *logrus.Entry) error {
	h.msgs = append(h.msgs, e.Message)
	return nil
}

// Load loads the compose project described by opts.
func Load(ctx context.Context, opts Options) (*Result, error) {
	workDir := opts.WorkDir
	if workDir == "" {
		wd, err := os.Getwd()
		if err != nil {
			return nil, err
		}
		workDir = wd
	}
	workDir, err := filepath.Abs(workDir)
	if err != nil {
		return nil, err
	}
	res := &Result{Profiles: slices.Clone(opts.Profiles), Positions: newPositions()}

	// Compose files.
	if len(opts.Files) == 0 {
		files, warns, err := Discover(workDir)
		if err != nil {
			return nil, err
		}
		for _, w := range warns {
			res.Warnings = append(res.Warnings, Warning{Message: w})
		}
		res.Files = files
	} else {
		for _, f := range opts.Files {
			if f == "-" {
				return nil, errors.New("reading a compose file from stdin is not supported: pass a file name to -f")
			}
			if !filepath.IsAbs(f) {
				f = filepath.Join(workDir, f)
			}
			st, err := os.Stat(f)
			if err != nil {
				return nil, fmt.Errorf("compose file %s: %w", rel(workDir, f), errors.Unwrap(err))
			}
			if st.IsDir() {
				return nil, fmt.Errorf("compose file %s is a directory", rel(workDir, f))
			}
			res.Files = append(res.Files, filepath.Clean(f))
		}
	}
	res.ProjectDir = filepath.Dir(res.Files[0])

	// Positions (best effort), including included and extended files.
	queue := slices.Clone(res.Files)
	for len(queue) > 0 {
		f := queue[0]
		queue = queue[1:]
		queue = append(queue, res.Positions.add(f)...)
	}

	// The generating environment: process env, then env files (which do
	// not override the process env, as in docker compose).
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
	if len(opts.EnvFiles) > 0 {
		for _, f := range opts.EnvFiles {
			if !filepath.IsAbs(f) {
				f = filepath.Join(workDir, f)
			}
			res.EnvFiles = append(res.EnvFiles, filepath.Clean(f))
		}
	} else if st, err := os.Stat(filepath.Join(res.ProjectDir, ".env")); err == nil && !st.IsDir() {
		res.EnvFiles = []string{filepath.Join(res.ProjectDir, ".env")}
		res.DefaultEnvFile = true
	}
	if len(res.EnvFiles) > 0 {
		fromFiles, err := dotenv.GetEnvFromFile(env, res.EnvFiles)
		if err != nil {
			return nil, fmt.Errorf("env file: %w (check --env-file)", err)
		}
		env.Merge(fromFiles)
	}
	real := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	vars := newVars(real)
	res.Vars = vars

	// Project name: -p, else the name: attribute (handled by compose-go),
	// else the project directory's name. COMPOSE_PROJECT_NAME is ignored:
	// it is machine environment.
	name, explicit := opts.ProjectName, opts.ProjectName != ""
	if !explicit {
		name = loader.NormalizeProjectName(filepath.Base(res.ProjectDir))
		if name == "" {
			name = "composegen"
		}
	}

	details := types.ConfigDetails{
		WorkingDir:  res.ProjectDir,
		ConfigFiles: types.ToConfigFiles(res.Files),
		// Empty on purpose: compose-go copies values from it into bare
		// environment entries, build args and secrets, which would bake the
		// generating machine's environment into the output.
		Environment: types.Mapping{},
	}
	casts := castMapping(vars)

	logMu.Lock()
	hook := &logHook{}
	std := logrus.StandardLogger()
	oldHooks := std.ReplaceHooks(logrus.LevelHooks{})
	oldOut := std.Out
	std.AddHook(hook)
	std.SetOutput(io.Discard)
	project, err := recovered(func() (*types.Project, error) {
		return loader.LoadWithContext(ctx, details, func(o *loader.Options) {
			o.SetProjectName(name, explicit)
			o.Profiles = []string{"*"}
			o.SkipResolveEnvironment = true
			o.SkipResolveLabels = true
			o.ResolvePaths = true
			o.Interpolate = &interp.Options{
				Substitute:      vars.substitute,
				LookupValue:     real,
				TypeCastMapping: casts,
			}
		})
	})
	std.ReplaceHooks(oldHooks)
	std.SetOutput(oldOut)
	logMu.Unlock()
	for _, m := range hook.msgs {
		w := Warning{Message: vars.Template(m)}
		for _, f := range res.Positions.Files() {
			if rest, ok := strings.CutPrefix(w.Message, f+": "); ok {
				w.Pos.File, w.Message = f, rest
			}
			w.Message = strings.ReplaceAll(w.Message, f, rel(workDir, f))
		}
		res.Warnings = append(res.Warnings, w)
	}
	if err != nil {
		return nil, wrapError(err, res, workDir)
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	res.Project = project
	res.Warnings = append(res.Warnings, structuralWarnings(res.Positions)...)
	return res, nil
}

func rel(base, p string) string {
	if r, err := filepath.Rel(base, p); err == nil {
		return r
	}
	return p
}

// Structural fields: compose-go parses them at load time, so their variables
// are resolved at generation time with the real environment.
var structuralPaths = []tree.Path{
	"name",
	"include.[]",
	"include.[].path",
	"include.[].path.[]",
	"include.[].env_file",
	"include.[].env_file.[]",
	"include.[].project_directory",
	"services.*.extends",
	"services.*.extends.file",
	"services.*.extends.service",
	"services.*.profiles.[]",
	"services.*.ports.[]",
	"services.*.ports.[].published",
	"services.*.ports.[].protocol",
	"services.*.ports.[].host_ip",
	"services.*.ports.[].mode",
	"services.*.ports.[].name",
	"services.*.expose.[]",
	"services.*.healthcheck.interval",
	"services.*.healthcheck.timeout",
	"services.*.healthcheck.start_period",
	"services.*.healthcheck.start_interval",
	"services.*.stop_grace_period",
	"services.*.shm_size",
	"services.*.mem_limit",
	"services.*.mem_reservation",
	"services.*.memswap_limit",
	"services.*.mem_swappiness",
	"services.*.deploy.resources.limits.memory",
	"services.*.deploy.resources.limits.cpus",
	"services.*.deploy.resources.limits.pids",
	"services.*.deploy.resources.reservations.memory",
	"services.*.deploy.resources.reservations.cpus",
	"services.*.depends_on.[]",
	"services.*.depends_on.*.condition",
	"services.*.networks.[]",
	"services.*.network_mode",
	"services.*.ipc",
	"services.*.pid",
	"services.*.links.[]",
	"services.*.volumes_from.[]",
	"services.*.secrets.[]",
	"services.*.secrets.[].source",
	"services.*.configs.[]",
	"services.*.configs.[].source",
	"services.*.volumes.[].type",
	"services.*.build.shm_size",
	"services.*.tmpfs.[].size",
	"services.*.volumes.[].tmpfs.size",
}

// castMapping returns compose-go's type casts, each wrapped to resolve
// tokens first, plus resolving casts for the structural fields.
func castMapping(vars *Vars) map[tree.Path]interp.Cast {
	def := loader.ToOptions(&types.ConfigDetails{}, nil).Interpolate.TypeCastMapping
	out := make(map[tree.Path]interp.Cast, len(def)+len(structuralPaths)+1)
	for p, c := range def {
		out[p] = resolving(vars, c)
	}
	identity := func(s string) (interface{}, error) { return s, nil }
	for _, p := range structuralPaths {
		if _, ok := out[p]; !ok {
			out[p] = resolving(vars, identity)
		}
	}
	out["services.*.volumes.[]"] = volumeCast(vars)
	return out
}

func resolving(vars *Vars, cast interp.Cast) interp.Cast {
	return func(s string) (interface{}, error) {
		r, _, err := vars.Resolve(s)
		if err != nil {
			return nil, err
		}
		return cast(r)
	}
}

// volumeCast handles the short syntax of a service volume whose source is a
// variable ("${DATA:-./data}:/data"): compose-go decides between a bind mount
// and a named volume from the source's first character, so the source is
// resolved to decide the type, and the long syntax is returned with the
// source kept as a template.
func volumeCast(vars *Vars) interp.Cast {
	return func(s string) (interface{}, error) {
		if !HasTokens(s) {
			return s, nil
		}
		resolved, _, err := vars.Resolve(s)
		if err != nil {
			return nil, err
		}
		real, err := format.ParseVolume(resolved)
		if err != nil {
			return nil, err
		}
		tok, err := format.ParseVolume(s)
		if err != nil || strings.Count(s, ":") != strings.Count(resolved, ":") {
			// The variable expands to several fields: keep the resolved
			// form, the warning says it was fixed at generation time.
			return resolved, nil
		}
		typ := real.Type
		if real.Source == "" && tok.Source != "" {
			// The variable is unset here: a variable source is a path.
			typ = types.VolumeTypeBind
		}
		m := map[string]any{"type": typ, "target": tok.Target}
		if tok.Source != "" {
			m["source"] = tok.Source
		}
		if tok.ReadOnly {
			m["read_only"] = true
		}
		if tok.Consistency != "" {
			m["consistency"] = tok.Consistency
		}
		if typ == types.VolumeTypeBind {
			b := map[string]any{"create_host_path": true}
			if tok.Bind != nil {
				if tok.Bind.Propagation != "" {
					b["propagation"] = tok.Bind.Propagation
				}
				if tok.Bind.SELinux != "" {
					b["selinux"] = tok.Bind.SELinux
				}
			}
			m["bind"] = b
		}
		if tok.Volume != nil && tok.Volume.NoCopy {
			m["volume"] = map[string]any{"nocopy": true}
		}
		return m, nil
	}
}

// structuralWarnings reports every structural field written with a variable.
func structuralWarnings(pos *Positions) []Warning {
	def := loader.ToOptions(&types.ConfigDetails{}, nil).Interpolate.TypeCastMapping
	patterns := slices.Clone(structuralPaths)
	for p := range def {
		patterns = append(patterns, p)
	}
	var out []Warning
	for _, f := range pos.files {
		idx := pos.index[f]
		keys := make([]string, 0, len(idx))
		for k := range idx {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			val := pos.scalar(f, k)
			if !strings.Contains(val, "$") || !strings.Contains(strings.ReplaceAll(val, "$$", ""), "$") {
				continue
			}
			tp := treePath(k)
			match := false
			for _, p := range patterns {
				if tp.Matches(p) {
					match = true
					break
				}
			}
			if !match {
				continue
			}
			svc, field := splitServicePath(k)
			out = append(out, Warning{
				Pos: idx[k], Service: svc, Field: field,
				Message: fmt.Sprintf("%q is resolved at generation time (compose parses this field when loading), so its value is fixed in the generated code; regenerate when the variable changes", val),
			})
		}
	}
	return out
}

// treePath converts "services.api.ports[1]" into compose-go's
// "services.api.ports.[]".
func treePath(k string) tree.Path {
	var parts []string
	for _, seg := range strings.Split(k, ".") {
		for {
			i := strings.IndexByte(seg, '[')
			if i < 0 {
				parts = append(parts, seg)
				break
			}
			if i > 0 {
				parts = append(parts, seg[:i])
			}
			parts = append(parts, tree.PathMatchList)
			j := strings.IndexByte(seg, ']')
			if j < 0 {
				break
			}
			seg = seg[j+1:]
			if seg == "" {
				break
			}
		}
	}
	return tree.NewPath(parts...)
}

func splitServicePath(k string) (service, field string) {
	rest, ok := strings.CutPrefix(k, "services.")
	if !ok {
		return "", k
	}
	i := strings.IndexAny(rest, ".[")
	if i < 0 {
		return rest, ""
	}
	return rest[:i], strings.TrimPrefix(rest[i:], ".")
}

// recovered calls load, turning a panic of compose-go's (its YAML decoder
// crashes on some malformed files, e.g. a "!reset" tag on the document
// root) into an error without a stack trace.
func recovered(load func() (*types.Project, error)) (p *types.Project, err error) {
	defer func() {
		if r := recover(); r != nil {
			p, err = nil, fmt.Errorf("the compose file cannot be loaded (compose-go crashed on it: %v)", r)
		}
	}()
	return load()
}
