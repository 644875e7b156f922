// Package load is the first stage of composegen and the only one that reads
// files. It loads compose files with compose-go exactly as docker compose
// does (override files, extends, include, anchors, profiles, .env and
// interpolation) while keeping every variable expression as a template, so
// that no value from the generating machine's environment ends up in the
// generated code, and it reads what the model needs from the disk (the
// names of the env files' variables, the module root) into a Result, from
// which the model is built without any file-system access.
//
// compose-go interpolates with a Substitute function of ours that replaces
// each variable expression by a token (see Vars). Strings of the loaded
// project therefore hold tokens, which Vars.Template turns back into the
// expressions as written. Fields that compose-go must parse at load time
// (published ports, durations, sizes, include paths, profiles...) are
// resolved with the real environment instead, and a diagnostic says that
// the field's value was fixed at generation time.
package load

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/composegen/composegen/cmd/composegen/internal/diag"
)

// Options configure Load.
type Options struct {
	// Files are the compose files, merged in order. Relative paths are
	// relative to WorkDir. When empty, Load discovers compose.yaml (and the
	// other DefaultFileNames) plus its override file in WorkDir and then its
	// parents, like docker compose.
	Files []string
	// WorkDir is the directory relative paths are resolved against, where
	// discovery starts, and what file names in diagnostics are relative to.
	// Default: the process's working directory.
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
	// OutDir is the directory of the generated file (default: the project
	// directory). Load finds the module root above it.
	OutDir string
}

// Result is a loaded compose project: everything the model needs, read from
// the disk.
type Result struct {
	// Project is compose-go's project. Its strings hold variable tokens:
	// use Vars.Template to get the compose template text back. All services
	// are enabled, whatever their profiles.
	Project *types.Project
	// Files are the absolute paths of the compose files in merge order.
	Files []string
	// Inputs are the compose files read (Files, then the files they include
	// or extend), each with composeplan.HashContent of its content, for the
	// plan's drift check. Env files are not inputs.
	Inputs []Input
	// ProjectDir is the absolute project directory (the first file's).
	ProjectDir string
	// WorkDir is the absolute directory diagnostics are relative to.
	WorkDir string
	// OutDir is the absolute directory of the generated file.
	OutDir string
	// ModuleRoot is the nearest directory above OutDir (or OutDir) holding
	// go.mod or .git, else OutDir: paths inside it are written relative.
	ModuleRoot string
	// EnvFiles are the absolute paths of the --env-file files; nil when the
	// project's .env (if any) is used.
	EnvFiles []string
	// Profiles are the profiles given in Options.
	Profiles []string
	// Vars maps the tokens of Project back to templates.
	Vars *Vars
	// Positions locates services and fields in the compose files.
	Positions *Positions
	// EnvFileVars maps each env_file of a service (absolute path, as in
	// Project) that exists and parses to the names of its variables,
	// sorted. Values are never read.
	EnvFileVars map[string][]string
	// Diagnostics are the warnings found while loading.
	Diagnostics diag.List
}

// Input is a compose file that was read, with the hash of its content.
type Input struct {
	// File is the absolute path.
	File string
	// SHA256 is composeplan.HashContent of the content read.
	SHA256 string
}

// Load loads the compose project described by opts. Its error is a
// diag.Errors.
func Load(ctx context.Context, opts Options) (*Result, error) {
	res, err := newResult(opts)
	if err != nil {
		return nil, err
	}
	if err := res.findFiles(opts.Files); err != nil {
		return nil, err
	}
	if err := res.indexPositions(); err != nil {
		return nil, err
	}
	env, err := res.environment(opts)
	if err != nil {
		return nil, err
	}
	res.Vars = newVars(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	project, err := res.loadProject(ctx, opts.ProjectName)
	if err != nil {
		return nil, err
	}
	res.Project = project
	res.restoreConstrained()
	unset := res.unsetDiagnostics()
	res.Diagnostics = append(res.Diagnostics, notAt(res.structuralDiagnostics(), unset)...)
	res.Diagnostics = append(res.Diagnostics, unset...)
	res.readEnvFileVars(ctx)
	for _, f := range res.Positions.Files() {
		if h, ok := res.Positions.Hash(f); ok {
			res.Inputs = append(res.Inputs, Input{File: f, SHA256: h})
		}
	}
	return res, nil
}

func newResult(opts Options) (*Result, error) {
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
	res := &Result{WorkDir: workDir, Profiles: slices.Clone(opts.Profiles), Positions: newPositions()}
	if opts.OutDir != "" {
		if res.OutDir, err = filepath.Abs(opts.OutDir); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// findFiles sets Files, ProjectDir, OutDir and ModuleRoot.
func (res *Result) findFiles(files []string) error {
	if len(files) == 0 {
		found, warns, err := Discover(res.WorkDir)
		if err != nil {
			return diag.Errors{diag.Errorf("%v", err)}
		}
		for _, w := range warns {
			res.Diagnostics = append(res.Diagnostics, diag.Diagnostic{Severity: diag.Warning, Message: w})
		}
		res.Files = found
	}
	for _, f := range files {
		if f == "-" {
			return diag.Errors{{Severity: diag.Error, Message: "reading a compose file from stdin is not supported", Hint: "pass a file name to -f"}}
		}
		if !filepath.IsAbs(f) {
			f = filepath.Join(res.WorkDir, f)
		}
		st, err := os.Stat(f)
		switch {
		case err != nil:
			return diag.Errors{{Severity: diag.Error, Message: fmt.Sprintf("compose file %s: %v", res.display(f), unwrapPathError(err))}}
		case st.IsDir():
			return diag.Errors{{Severity: diag.Error, Message: fmt.Sprintf("compose file %s is a directory", res.display(f))}}
		}
		res.Files = append(res.Files, filepath.Clean(f))
	}
	if len(files) > 0 {
		res.noteOverride()
	}
	res.ProjectDir = filepath.Dir(res.Files[0])
	if res.OutDir == "" {
		res.OutDir = res.ProjectDir
	}
	res.ModuleRoot = moduleRoot(res.OutDir)
	return nil
}

// noteOverride adds a note when an override file lies beside the first
// file given with -f and no override file of that directory is loaded:
// docker compose -f leaves it out too, but a user who wrote -f compose.yaml
// may expect it.
func (res *Result) noteOverride() {
	overrides := existing(filepath.Dir(res.Files[0]), DefaultOverrideFileNames)
	if len(overrides) == 0 || slices.ContainsFunc(overrides, func(o string) bool { return slices.Contains(res.Files, o) }) {
		return
	}
	var args []string
	for _, f := range append(slices.Clone(res.Files), overrides[0]) {
		args = append(args, "-f", filepath.ToSlash(res.display(f)))
	}
	res.Diagnostics = append(res.Diagnostics, diag.Diagnostic{
		Severity: diag.Note,
		Message:  fmt.Sprintf("%s is not loaded: -f loads only the files given", filepath.ToSlash(res.display(overrides[0]))),
		Hint:     fmt.Sprintf("to include it: %s, or no -f", strings.Join(args, " ")),
	})
}

func unwrapPathError(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

// indexPositions parses the compose files and the files they include or
// extend, for positions in messages, and refuses alias bombs as compose-go
// does.
func (res *Result) indexPositions() error {
	queue := slices.Clone(res.Files)
	for len(queue) > 0 {
		f := queue[0]
		queue = queue[1:]
		queue = append(queue, res.Positions.add(f)...)
	}
	var errs diag.Errors
	for _, f := range res.Positions.aliasBombs {
		errs = append(errs, diag.Diagnostic{
			Severity: diag.Error, File: res.display(f), Line: 1,
			Message: fmt.Sprintf("yaml: document contains excessive aliasing: its anchors and aliases expand to more than %d nodes", maxNodeVisits),
			Hint:    "docker compose refuses the file too; use fewer nested aliases",
		})
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// moduleRoot returns the nearest ancestor of dir holding go.mod or .git,
// else dir. Paths inside it are written relative; paths outside are
// machine-specific and written as in the compose file.
func moduleRoot(dir string) string {
	for d := dir; ; {
		for _, m := range []string{"go.mod", ".git"} {
			if _, err := os.Stat(filepath.Join(d, m)); err == nil {
				return d
			}
		}
		parent := filepath.Dir(d)
		if parent == d {
			return dir
		}
		d = parent
	}
}

// display returns a file name for messages, relative to the working
// directory.
func (res *Result) display(f string) string {
	if f == "" {
		return ""
	}
	if r, err := filepath.Rel(res.WorkDir, f); err == nil {
		return r
	}
	return f
}

// Display returns the name of an absolute file for diagnostics: relative to
// the working directory.
func (res *Result) Display(f string) string { return res.display(f) }
