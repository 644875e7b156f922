package main

import (
	"context"

	"github.com/composegen/composegen/internal/cli"
)

func init() {
	commands = append(commands, &command{
		name:    "prune",
		usage:   "prune [-engine name] [-project name] [-v]",
		summary: "remove kept stacks and the leftovers of dead test processes",
		run:     pruneCommand,
	})
}

// pruneCommand is composegen prune (see cli.Prune). On Kubernetes, whose
// engine this binary does not link, it says to run composegen-kube.
func pruneCommand(ctx context.Context, c *proc, args []string) int {
	return cli.Prune(ctx, c.cliEnv(), args)
}

// cliEnv is the environment of the commands shared with composegen-kube.
func (c *proc) cliEnv() *cli.Env {
	return &cli.Env{
		Prog: "composegen", Version: version(),
		Stdout: c.stdout, Stderr: c.stderr,
		Getwd: c.getwd, Environ: c.environ,
		ComposeImages: composeImages,
	}
}
