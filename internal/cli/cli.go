// Package cli holds the bodies of the commands that composegen and
// composegen-kube (github.com/composegen/composegen/kube/cmd/composegen-kube)
// share: prune and doctor. Each binary links its own engines; the commands
// behave the same in both, with the same flags and output.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/composegen/composegen/internal/admin"
	"github.com/composegen/composegen/runtime/engine"
)

// KubeCommand is the command that offers prune and doctor with the
// Kubernetes engine linked.
const KubeCommand = "github.com/composegen/composegen/kube/cmd/composegen-kube"

// Env is what a command gets from its process.
type Env struct {
	// Prog is the program name of messages: "composegen" or
	// "composegen-kube".
	Prog string
	// Version is the composegen module version to name in hints ("" or
	// "(devel)" for latest).
	Version        string
	Stdout, Stderr io.Writer
	// Getwd returns the working directory; nil means os.Getwd.
	Getwd func() (string, error)
	// Environ is the environment of compose interpolation; nil means the
	// process's.
	Environ []string
	// ComposeImages returns the images of the compose files and notes on
	// the services whose image is not known before a start. nil when the
	// binary cannot load compose files: doctor -f is refused then.
	ComposeImages func(ctx context.Context, wd string, files, environ []string) (images, notes []string, err error)
}

func (e *Env) errorf(format string, args ...any) {
	fmt.Fprintf(e.Stderr, e.Prog+": "+format+"\n", args...)
}

// engineName is the engine a command would open: the flag, else
// COMPOSEGEN_ENGINE, else Docker.
func engineName(flagValue string) string {
	if flagValue != "" {
		return flagValue
	}
	return os.Getenv("COMPOSEGEN_ENGINE")
}

// notLinked returns the error to print when the selected engine is
// Kubernetes and this binary does not link it, or nil.
func (e *Env) notLinked(cmd, engineFlag string, args []string) error {
	if engineName(engineFlag) != "kubernetes" {
		return nil
	}
	if _, ok := engine.Lookup("kubernetes"); ok {
		return nil
	}
	v := e.Version
	if v == "" || v == "(devel)" {
		v = "latest"
	}
	return fmt.Errorf("%s: this binary does not link the Kubernetes engine (it lives in the separate module github.com/composegen/composegen/kube); run instead:\n\tgo run %s@%s %s",
		cmd, KubeCommand, v, strings.Join(append([]string{cmd}, args...), " "))
}

// flagSet returns the flag set of command cmd, whose usage line shows
// synopsis and then about.
func (e *Env) flagSet(cmd, synopsis, about string) *flag.FlagSet {
	fs := flag.NewFlagSet(e.Prog+" "+cmd, flag.ContinueOnError)
	fs.SetOutput(e.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: %s %s %s\n\n%s\n", e.Prog, cmd, synopsis, about)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses a command's arguments, which are flags only, and checks
// that this binary links the selected engine. When the command must end
// there, ok is false and code its exit status: 0 after -h, 2 on a usage
// error (hint says what to do with stray arguments), 1 for an engine this
// binary does not link.
func (e *Env) parse(fs *flag.FlagSet, args []string, hint string, engineFlag *string) (code int, ok bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, false
		}
		return 2, false
	}
	cmd := strings.TrimPrefix(fs.Name(), e.Prog+" ")
	if fs.NArg() > 0 {
		e.errorf("%s takes no arguments (got %s); %s", cmd, strings.Join(fs.Args(), " "), hint)
		return 2, false
	}
	if err := e.notLinked(cmd, *engineFlag, args); err != nil {
		e.errorf("%v", err)
		return 1, false
	}
	return 0, true
}

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(s string) error {
	*l = append(*l, s)
	return nil
}

// Prune is prune: it removes from the engine every stack that no running
// process owns (stacks kept with COMPOSEGEN_REUSE=1, COMPOSEGEN_KEEP or
// runtime.WithKeepOnFailure, and the leftovers of test processes that died)
// and says what it removed. It never removes the stack of a process that
// runs. Exit status: 0 on success (also when there was nothing to remove),
// 1 when the engine cannot be reached or a removal failed, 2 on a usage
// error.
func Prune(ctx context.Context, e *Env, args []string) int {
	fs := e.flagSet("prune", "[-engine name] [-project name] [-v]",
		"Removes the stacks that no running process owns: kept stacks (COMPOSEGEN_REUSE=1,\nCOMPOSEGEN_KEEP, WithKeepOnFailure) and the leftovers of test processes that died,\nwith the lock files of the stacks that are gone. The stack of a running process,\nand a lock that a process holds, are never removed.")
	engineFlag := fs.String("engine", "", "the engine: docker, podman, or another registered one (default $COMPOSEGEN_ENGINE, else docker; DOCKER_HOST and the Docker context select the daemon)")
	project := fs.String("project", "", "remove only this stack instance (its compose project name, as diagnostics print it)")
	verbose := fs.Bool("v", false, "name every container, network and volume removed")
	if code, ok := e.parse(fs, args, "use -project to name one stack", engineFlag); !ok {
		return code
	}
	pruned, err := admin.Prune(ctx, admin.PruneOptions{Engine: *engineFlag, Project: *project})
	for _, p := range pruned {
		name := p.Project
		if p.Shared != "" {
			name += " (shared stack of " + p.Shared + ")"
		}
		if p.Skipped {
			fmt.Fprintf(e.Stdout, "skipped %s: %s\n", name, p.Reason)
			continue
		}
		fmt.Fprintf(e.Stdout, "removed %s: %s; %d resource(s)\n", name, p.Reason, p.Resources)
		if *verbose {
			for _, r := range p.Removed {
				fmt.Fprintf(e.Stdout, "\t%s\n", r)
			}
		}
	}
	if err != nil {
		e.errorf("prune: %v", err)
		return 1
	}
	if len(pruned) == 0 {
		fmt.Fprintln(e.Stdout, "nothing to prune")
	}
	return 0
}

// Doctor is doctor: which engine the tests would use and why, its version,
// a real round trip (a small container, a published port, an HTTP answer
// from it), and with -f the images of the compose file that are missing.
// Exit status: 0 when nothing is a problem (missing images are warnings: a
// start pulls them), 1 otherwise, 2 on a usage error.
func Doctor(ctx context.Context, e *Env, args []string) int {
	fs := e.flagSet("doctor", "[-engine name] [-f compose.yaml]...",
		"Says which engine the tests would use and why, checks that it can run a\ncontainer whose published port answers from here, and with -f which images\nof the compose file are missing.")
	engineFlag := fs.String("engine", "", "the engine: docker or podman (default $COMPOSEGEN_ENGINE, else docker; DOCKER_HOST and the Docker context select the daemon)")
	var files listFlag
	fs.Var(&files, "f", "compose `file` whose images to check (repeatable)")
	if code, ok := e.parse(fs, args, "compose files are given with -f", engineFlag); !ok {
		return code
	}
	var images, notes []string
	if len(files) > 0 {
		if e.ComposeImages == nil {
			e.errorf("doctor -f: %s cannot read compose files; list the images with `composegen doctor -f %s` (Docker) and check the engine without -f", e.Prog, strings.Join(files, " -f "))
			return 2
		}
		getwd := e.Getwd
		if getwd == nil {
			getwd = os.Getwd
		}
		wd, err := getwd()
		if err != nil {
			e.errorf("%v", err)
			return 1
		}
		images, notes, err = e.ComposeImages(ctx, wd, files, e.Environ)
		if err != nil {
			e.errorf("%v", err)
			return 1
		}
	}
	code := 0
	for _, f := range admin.Doctor(ctx, admin.DoctorOptions{Engine: *engineFlag, Images: images}) {
		fmt.Fprintf(e.Stdout, "%-8s %s: %s\n", f.Level, f.Check, f.Detail)
		if f.Level == "problem" {
			code = 1
		}
	}
	for _, n := range notes {
		fmt.Fprintf(e.Stdout, "%-8s %s\n", "note", n)
	}
	return code
}
