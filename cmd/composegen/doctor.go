package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"sort"
	"strings"

	"github.com/composegen/composegen/cmd/composegen/internal/load"
	"github.com/composegen/composegen/cmd/composegen/internal/model"
	"github.com/composegen/composegen/runtime"
)

func init() {
	commands = append(commands, &command{
		name:    "doctor",
		usage:   "doctor [-engine name] [-f compose.yaml]...",
		summary: "say why tests could not start a stack: engine, round trip, images",
		run:     doctorCommand,
	})
}

// doctorCommand is composegen doctor: which engine the tests would use and
// why, its version, a real round trip (a small container, a published port,
// an HTTP answer from it), and with -f the images of the compose file that
// are missing. Exit status: 0 when nothing is a problem (missing images are
// warnings: a start pulls them), 1 otherwise, 2 on a usage error.
func doctorCommand(ctx context.Context, c *proc, args []string) int {
	fs := flag.NewFlagSet("composegen doctor", flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	engine := fs.String("engine", "", "the engine: docker or podman (default $COMPOSEGEN_ENGINE, else docker; DOCKER_HOST and the Docker context select the daemon)")
	var files listFlag
	fs.Var(&files, "f", "compose `file` whose images to check (repeatable)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: composegen doctor [-engine name] [-f compose.yaml]...\n\nSays which engine the tests would use and why, checks that it can run a\ncontainer whose published port answers from here, and with -f which images\nof the compose file are missing.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		c.errorf("doctor takes no arguments (got %s); compose files are given with -f", strings.Join(fs.Args(), " "))
		return 2
	}
	var images, notes []string
	if len(files) > 0 {
		wd, err := c.getwd()
		if err != nil {
			c.errorf("%v", err)
			return 1
		}
		images, notes, err = composeImages(ctx, wd, files, c.environ)
		if err != nil {
			c.errorf("%v", err)
			return 1
		}
	}
	code := 0
	for _, f := range runtime.Doctor(ctx, runtime.DoctorOptions{Engine: *engine, Images: images}) {
		fmt.Fprintf(c.stdout, "%-8s %s: %s\n", f.Level, f.Check, f.Detail)
		if f.Level == "problem" {
			code = 1
		}
	}
	for _, n := range notes {
		fmt.Fprintf(c.stdout, "%-8s %s\n", "note", n)
	}
	return code
}

// composeImages returns the images of every service of the compose files,
// sorted, and notes for the services whose image is only known at start
// (variables) or built.
func composeImages(ctx context.Context, wd string, files []string, environ []string) ([]string, []string, error) {
	res, err := load.Load(ctx, load.Options{Files: files, WorkDir: wd, Environ: environ})
	if err != nil {
		return nil, nil, err
	}
	p, err := model.Build(res, model.BuildOptions{Package: "doctor"})
	if err != nil {
		return nil, nil, err
	}
	seen := map[string]bool{}
	var images, notes []string
	for _, s := range p.Plan.Services {
		switch {
		case s.Build != nil:
			notes = append(notes, fmt.Sprintf("service %q: built from %s at its first start", s.Name, s.Build.Context))
		case strings.Contains(s.Image, "${"):
			notes = append(notes, fmt.Sprintf("service %q: image %s: resolved when the stack starts", s.Name, s.Image))
		case !seen[s.Image]:
			seen[s.Image] = true
			images = append(images, s.Image)
		}
	}
	sort.Strings(images)
	return images, notes, nil
}
