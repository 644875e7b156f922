package main

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/composegen/composegen/cmd/composegen/internal/load"
	"github.com/composegen/composegen/cmd/composegen/internal/model"
	"github.com/composegen/composegen/internal/cli"
)

func init() {
	commands = append(commands, &command{
		name:    "doctor",
		usage:   "doctor [-engine name] [-f compose.yaml]...",
		summary: "say why tests could not start a stack: engine, round trip, images",
		run:     doctorCommand,
	})
}

// doctorCommand is composegen doctor (see cli.Doctor).
func doctorCommand(ctx context.Context, c *proc, args []string) int {
	return cli.Doctor(ctx, c.cliEnv(), args)
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
