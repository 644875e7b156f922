package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"go/token"
	"io"
	"os"
	"path/filepath"
	"strings"
	"unicode"

	"github.com/composegen/composegen/cmd/composegen/internal/diag"
	"github.com/composegen/composegen/cmd/composegen/internal/emit"
	"github.com/composegen/composegen/cmd/composegen/internal/load"
	"github.com/composegen/composegen/cmd/composegen/internal/model"
)

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(s string) error {
	*l = append(*l, s)
	return nil
}

// genFlags are the generator's flags.
type genFlags struct {
	files       listFlag
	envFiles    listFlag
	engines     listFlag
	profiles    listFlag
	projectName string
	output      string
	pkg         string
	check       bool
	verbose     bool
	version     bool
}

const defaultOutput = "compose_gen.go"

// flagSet returns the generator's flag set, writing into f. check reads the
// arguments recorded in a generated file's header with the same set.
func (f *genFlags) flagSet(stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("composegen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Var(&f.files, "f", "compose `file` (repeatable, merged in order); default: discover compose.yaml and its override")
	fs.Var(&f.envFiles, "env-file", "env `file` used for interpolation instead of the project's .env (repeatable)")
	fs.Var(&f.profiles, "profile", "`profile` active by default (repeatable)")
	fs.Var(&f.engines, "engine", "link the engine `name` into the fixtures besides Docker and Podman: kubernetes (repeatable; its module github.com/composegen/composegen/kube must be required)")
	fs.StringVar(&f.projectName, "p", "", "project `name` (default: the compose file's name: or its directory)")
	fs.StringVar(&f.projectName, "project-name", "", "same as -p")
	fs.StringVar(&f.output, "o", defaultOutput, "output `file`")
	fs.StringVar(&f.pkg, "pkg", "", "Go `package` of the output (default: $GOPACKAGE, else the output directory's name)")
	fs.BoolVar(&f.check, "check", false, "write nothing; exit 1 with a diff if the output file is not up to date (see also: composegen check)")
	fs.BoolVar(&f.verbose, "v", false, "print every note, not only a summary of the expected ones")
	fs.BoolVar(&f.version, "version", false, "print the version and exit")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usageText)
		printCommands(fs.Output())
		fmt.Fprintln(fs.Output(), "\nThe generator's flags are:")
		fs.PrintDefaults()
	}
	return fs
}

// generateCommand is composegen [flags]: generate the fixtures file.
func generateCommand(ctx context.Context, c *proc, args []string) int {
	var f genFlags
	fs := f.flagSet(c.stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		c.errorf("unexpected argument %q (compose files are given with -f; the commands are: %s)", fs.Arg(0), commandNames())
		return 2
	}
	if f.version {
		fmt.Fprintln(c.stdout, "composegen", version())
		return 0
	}
	wd, err := c.getwd()
	if err != nil {
		c.errorf("%v", err)
		return 1
	}
	job, err := newJob(&f, wd, c.getenv)
	if err != nil {
		c.errorf("%v", err)
		return 1
	}
	if gofile := c.getenv("GOFILE"); gofile != "" && filepath.Join(wd, gofile) == job.out {
		c.errorf("-o %s would overwrite the file holding the go:generate directive", f.output)
		return 1
	}
	src, diags, err := job.generate(ctx, c.environ)
	report(c, diags, f.verbose)
	if err != nil {
		reportError(c, err)
		return 1
	}
	if f.check {
		return checkOne(c, job, src, rel(wd, job.out))
	}
	if err := writeAtomic(job.out, src); err != nil {
		c.errorf("%v", err)
		return 1
	}
	return 0
}

func commandNames() string {
	names := make([]string, 0, len(commands)+1)
	for _, cmd := range commands {
		names = append(names, cmd.name)
	}
	return strings.Join(append(names, "help"), ", ")
}

// job is one generation: the flags, resolved against a working directory.
type job struct {
	flags *genFlags
	// wd is the directory the generator runs in; out the absolute output
	// file; pkg its package.
	wd, out, pkg string
}

func newJob(f *genFlags, wd string, getenv func(string) string) (*job, error) {
	if f.output == "" {
		return nil, errors.New("-o must not be empty")
	}
	out := f.output
	if !filepath.IsAbs(out) {
		out = filepath.Join(wd, out)
	}
	pkg := f.pkg
	if pkg == "" {
		pkg = getenv("GOPACKAGE")
	}
	if pkg == "" {
		pkg = packageName(filepath.Base(filepath.Dir(out)))
	}
	if !token.IsIdentifier(pkg) {
		return nil, fmt.Errorf("invalid package name %q (set -pkg)", pkg)
	}
	if _, err := model.EngineImports(f.engines); err != nil {
		return nil, err
	}
	return &job{flags: f, wd: wd, out: filepath.Clean(out), pkg: pkg}, nil
}

// generate runs load, model and emit in memory and returns the file.
func (j *job) generate(ctx context.Context, environ []string) ([]byte, diag.List, error) {
	f := j.flags
	res, err := load.Load(ctx, load.Options{
		Files:       f.files,
		WorkDir:     j.wd,
		EnvFiles:    f.envFiles,
		Profiles:    f.profiles,
		ProjectName: f.projectName,
		Environ:     environ,
		OutDir:      filepath.Dir(j.out),
	})
	if err != nil {
		return nil, nil, err
	}
	proj, err := model.Build(res, model.BuildOptions{
		Package: j.pkg,
		Version: version(),
		Args:    j.args(),
		Dir:     filepath.ToSlash(rel(filepath.Dir(j.out), j.wd)),
		Engines: f.engines,
	})
	if err != nil {
		return nil, res.Diagnostics.Warnings(), err
	}
	src, err := emit.File(proj)
	if err != nil {
		return nil, proj.Diagnostics, fmt.Errorf("generating code: %w", err)
	}
	if ctx.Err() != nil {
		return nil, proj.Diagnostics, ctx.Err()
	}
	return src, proj.Diagnostics, nil
}

// args returns the arguments recorded in the header: the flags that decide
// the output, in a fixed order, with paths relative to the working
// directory and slash-separated, so that the header is the same on every
// machine. The default output and the package that go generate gives
// ($GOPACKAGE) are left out.
func (j *job) args() []string {
	f := j.flags
	var args []string
	path := func(p string) string {
		if filepath.IsAbs(p) {
			p = rel(j.wd, p)
		}
		return filepath.ToSlash(filepath.Clean(p))
	}
	for _, file := range f.files {
		args = append(args, "-f", path(file))
	}
	for _, file := range f.envFiles {
		args = append(args, "-env-file", path(file))
	}
	for _, p := range f.profiles {
		args = append(args, "-profile", p)
	}
	if f.projectName != "" {
		args = append(args, "-p", f.projectName)
	}
	for _, e := range f.engines {
		args = append(args, "-engine", e)
	}
	if o := path(rel(j.wd, j.out)); o != defaultOutput {
		args = append(args, "-o", o)
	}
	if f.pkg != "" {
		args = append(args, "-pkg", f.pkg)
	}
	return args
}

// report prints the warnings. Notes of a group (expected, documented
// situations) are summed up once per file and group unless verbose; other
// notes only when verbose.
func report(c *proc, diags diag.List, verbose bool) {
	type key struct{ file, group string }
	count := map[key]int{}
	var order []key
	for _, d := range diags {
		switch {
		case d.Severity == diag.Warning:
			fmt.Fprintf(c.stderr, "composegen: warning: %s\n", d)
		case verbose:
			fmt.Fprintf(c.stderr, "composegen: note: %s\n", d)
		case d.Group != "":
			k := key{d.File, d.Group}
			if count[k] == 0 {
				order = append(order, k)
			}
			count[k]++
		}
	}
	for _, k := range order {
		var summary string
		for _, d := range diags {
			if d.File == k.file && d.Group == k.group {
				summary = d.Summary
				break
			}
		}
		where := ""
		if k.file != "" {
			where = k.file + ": "
		}
		fmt.Fprintf(c.stderr, "composegen: note: %s%s (%d in the file; -v lists them)\n", where, summary, count[k])
	}
}

// reportError prints an error: each diagnostic on its own line.
func reportError(c *proc, err error) {
	var errs diag.Errors
	if errors.As(err, &errs) {
		for _, d := range errs {
			c.errorf("%s", d)
		}
		return
	}
	c.errorf("%v", err)
}

// writeAtomic writes data to a temporary file next to path and renames it
// over path, so that readers never see a partial file.
func writeAtomic(path string, data []byte) error {
	mode := os.FileMode(0o644)
	if st, err := os.Stat(path); err == nil {
		mode = st.Mode().Perm()
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, mode)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// packageName makes a valid package name of a directory name.
func packageName(dir string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(dir) {
		switch {
		case r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) && b.Len() > 0:
			b.WriteRune(r)
		}
	}
	name := b.String()
	if name == "" || token.IsKeyword(name) {
		name = "fixtures" + name
	}
	return name
}

func rel(base, p string) string {
	if r, err := filepath.Rel(base, p); err == nil {
		return r
	}
	return p
}
