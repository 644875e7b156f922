package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"

	"github.com/composegen/composegen/runtime"
)

func init() {
	commands = append(commands, &command{
		name:    "prune",
		usage:   "prune [-engine name] [-project name] [-v]",
		summary: "remove kept stacks and the leftovers of dead test processes",
		run:     pruneCommand,
	})
}

// pruneCommand is composegen prune: it removes from the engine every stack
// that no running process owns (stacks kept with COMPOSEGEN_REUSE=1,
// COMPOSEGEN_KEEP or runtime.WithKeepOnFailure, and the leftovers of test
// processes that died) and says what it removed. It never removes the stack
// of a process that runs. Exit status: 0 on success (also when there was
// nothing to remove), 1 when the engine cannot be reached or a removal
// failed, 2 on a usage error.
func pruneCommand(ctx context.Context, c *proc, args []string) int {
	fs := flag.NewFlagSet("composegen prune", flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	engine := fs.String("engine", "", "the engine: docker, podman, or another registered one (default $COMPOSEGEN_ENGINE, else docker; DOCKER_HOST and the Docker context select the daemon)")
	project := fs.String("project", "", "remove only this stack instance (its compose project name, as diagnostics print it)")
	verbose := fs.Bool("v", false, "name every container, network and volume removed")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: composegen prune [-engine name] [-project name] [-v]\n\nRemoves the stacks that no running process owns: kept stacks (COMPOSEGEN_REUSE=1,\nCOMPOSEGEN_KEEP, WithKeepOnFailure) and the leftovers of test processes that died.\nThe stack of a running process is never removed.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		c.errorf("prune takes no arguments (got %s); use -project to name one stack", strings.Join(fs.Args(), " "))
		return 2
	}
	pruned, err := runtime.Prune(ctx, runtime.PruneOptions{Engine: *engine, Project: *project})
	for _, p := range pruned {
		name := p.Project
		if p.Shared != "" {
			name += " (shared stack of " + p.Shared + ")"
		}
		fmt.Fprintf(c.stdout, "removed %s: %s; %d resource(s)\n", name, p.Reason, p.Resources)
		if *verbose {
			for _, r := range p.Removed {
				fmt.Fprintf(c.stdout, "\t%s\n", r)
			}
		}
	}
	if err != nil {
		c.errorf("prune: %v", err)
		return 1
	}
	if len(pruned) == 0 {
		fmt.Fprintln(c.stdout, "nothing to prune")
	}
	return 0
}
