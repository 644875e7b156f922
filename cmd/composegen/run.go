package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"go/token"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"unicode"

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

type config struct {
	files       listFlag
	envFiles    listFlag
	profiles    listFlag
	projectName string
	output      string
	pkg         string
	check       bool
	version     bool
}

const usageText = `usage: composegen [flags]

composegen generates typed Go test fixtures from docker-compose files.
Run it with go generate:

	//go:generate go run github.com/composegen/composegen/cmd/composegen -f compose.yaml

Flags:
`

// run is the whole command; it returns the exit code: 0 on success, 1 on
// error (or a stale file with -check), 2 on a usage error.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var cfg config
	fs := flag.NewFlagSet("composegen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Var(&cfg.files, "f", "compose `file` (repeatable, merged in order); default: discover compose.yaml and its override")
	fs.Var(&cfg.envFiles, "env-file", "env `file` used for interpolation instead of the project's .env (repeatable)")
	fs.Var(&cfg.profiles, "profile", "`profile` active by default (repeatable)")
	fs.StringVar(&cfg.projectName, "p", "", "project `name` (default: the compose file's name: or its directory)")
	fs.StringVar(&cfg.projectName, "project-name", "", "same as -p")
	fs.StringVar(&cfg.output, "o", "compose_gen.go", "output `file`")
	fs.StringVar(&cfg.pkg, "pkg", "", "Go `package` of the output (default: $GOPACKAGE, else the output directory's name)")
	fs.BoolVar(&cfg.check, "check", false, "write nothing; exit 1 if the output file is not up to date")
	fs.BoolVar(&cfg.version, "version", false, "print the version and exit")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usageText)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "composegen: unexpected argument %q (compose files are given with -f)\n", fs.Arg(0))
		fs.Usage()
		return 2
	}
	if cfg.version {
		fmt.Fprintln(stdout, "composegen", version())
		return 0
	}
	if err := generate(ctx, &cfg, stderr); err != nil {
		var stale *staleError
		if errors.As(err, &stale) {
			fmt.Fprintln(stderr, stale.summary)
			return 1
		}
		fmt.Fprintf(stderr, "composegen: %v\n", err)
		return 1
	}
	return 0
}

func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

type staleError struct{ summary string }

func (e *staleError) Error() string { return e.summary }

func generate(ctx context.Context, cfg *config, stderr io.Writer) error {
	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	out := cfg.output
	if out == "" {
		return errors.New("-o must not be empty")
	}
	if !filepath.IsAbs(out) {
		out = filepath.Join(wd, out)
	}
	outDir := filepath.Dir(out)
	if gofile := os.Getenv("GOFILE"); gofile != "" && filepath.Join(wd, gofile) == out {
		return fmt.Errorf("-o %s would overwrite the file holding the go:generate directive", cfg.output)
	}
	pkg := cfg.pkg
	if pkg == "" {
		pkg = os.Getenv("GOPACKAGE")
	}
	if pkg == "" {
		pkg = packageName(filepath.Base(outDir))
	}
	if !token.IsIdentifier(pkg) {
		return fmt.Errorf("invalid package name %q (set -pkg)", pkg)
	}

	res, err := load.Load(ctx, load.Options{
		Files:       cfg.files,
		WorkDir:     wd,
		EnvFiles:    cfg.envFiles,
		Profiles:    cfg.profiles,
		ProjectName: cfg.projectName,
	})
	if err != nil {
		return err
	}
	flags := []string{"p=" + cfg.projectName}
	for _, p := range cfg.profiles {
		flags = append(flags, "profile="+p)
	}
	proj, err := model.Build(res, model.BuildOptions{OutDir: outDir, Package: pkg, Flags: flags})
	if err != nil {
		return err
	}
	for _, w := range proj.Warnings {
		fmt.Fprintf(stderr, "composegen: warning: %s\n", w)
	}
	src, err := emit.File(proj)
	if err != nil {
		return fmt.Errorf("generating code: %w", err)
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	display := rel(wd, out)
	if cfg.check {
		old, err := os.ReadFile(out)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return &staleError{summary: fmt.Sprintf("composegen: %s does not exist; run go generate", display)}
			}
			return err
		}
		if bytes.Equal(old, src) {
			return nil
		}
		return &staleError{summary: fmt.Sprintf("composegen: %s is stale; run go generate\n%s", display, diffSummary(old, src))}
	}
	return writeAtomic(out, src)
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

// diffSummary describes how two versions of the output differ: the number
// of changed lines and the first few of them.
func diffSummary(old, cur []byte) string {
	a := strings.Split(string(old), "\n")
	b := strings.Split(string(cur), "\n")
	// Trim the common prefix and suffix; what remains differs.
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	ja, jb := len(a), len(b)
	for ja > i && jb > i && a[ja-1] == b[jb-1] {
		ja--
		jb--
	}
	var s strings.Builder
	fmt.Fprintf(&s, "  first difference at line %d: %d line(s) on disk, %d generated, differ\n", i+1, ja-i, jb-i)
	const maxShow = 5
	for k := i; k < ja && k < i+maxShow; k++ {
		fmt.Fprintf(&s, "  - %s\n", a[k])
	}
	for k := i; k < jb && k < i+maxShow; k++ {
		fmt.Fprintf(&s, "  + %s\n", b[k])
	}
	return strings.TrimRight(s.String(), "\n")
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
