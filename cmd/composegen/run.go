package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// proc is what a command gets from the process: its output streams and its
// environment. Tests give their own.
type proc struct {
	stdout, stderr io.Writer
	// getenv reads the environment (GOPACKAGE, GOFILE).
	getenv func(string) string
	// environ is the environment for the fields resolved at generation; nil
	// means the process's.
	environ []string
	// getwd returns the working directory.
	getwd func() (string, error)
}

func newProc(stdout, stderr io.Writer) *proc {
	return &proc{stdout: stdout, stderr: stderr, getenv: os.Getenv, getwd: os.Getwd}
}

// errorf prints "composegen: message" on standard error.
func (c *proc) errorf(format string, args ...any) {
	fmt.Fprintf(c.stderr, "composegen: "+format+"\n", args...)
}

// command is a subcommand: composegen NAME [args]. The bare form,
// composegen [flags], is the generator that go generate runs.
type command struct {
	name string
	// usage is the synopsis after "composegen ".
	usage string
	// summary is one line for composegen help.
	summary string
	// run runs the command with its arguments and returns the exit code: 0
	// on success, 1 on failure, 2 on a usage error.
	run func(ctx context.Context, c *proc, args []string) int
}

// commands are the subcommands, in the order help lists them. Add a
// command by appending to it from the file that implements it (init).
var commands []*command

func lookup(name string) *command {
	i := slices.IndexFunc(commands, func(cmd *command) bool { return cmd.name == name })
	if i < 0 {
		return nil
	}
	return commands[i]
}

// run is the whole program; it returns the exit code.
func run(ctx context.Context, args []string, c *proc) int {
	if len(args) > 0 {
		if cmd := lookup(args[0]); cmd != nil {
			return cmd.run(ctx, c, args[1:])
		}
		if args[0] == "help" {
			return help(c, args[1:])
		}
	}
	return generateCommand(ctx, c, args)
}

const usageText = `usage: composegen [flags]             generate fixtures (what go generate runs)
       composegen COMMAND [arguments]

composegen generates typed Go test fixtures from docker-compose files.
Run it with go generate:

	//go:generate go tool composegen

in the fixtures' package: it finds compose.yaml and its override in the
package's directory or a parent, as docker compose does (or name them with -f).

`

func help(c *proc, args []string) int {
	if len(args) > 0 {
		if cmd := lookup(args[0]); cmd != nil {
			fmt.Fprintf(c.stdout, "usage: composegen %s\n\n%s\n", cmd.usage, cmd.summary)
			return 0
		}
		c.errorf("unknown command %q", args[0])
		return 2
	}
	fmt.Fprint(c.stdout, usageText)
	printCommands(c.stdout)
	fmt.Fprintln(c.stdout, "\nThe generator's flags: composegen -h. The manual: go doc github.com/composegen/composegen/cmd/composegen")
	return 0
}

func printCommands(w io.Writer) {
	fmt.Fprintln(w, "The commands are:")
	fmt.Fprintln(w)
	for _, cmd := range commands {
		fmt.Fprintf(w, "\t%-8s %s\n", cmd.name, cmd.summary)
	}
	fmt.Fprintf(w, "\t%-8s %s\n", "help", "show this help, or a command's")
}

// indent prefixes every line of s with prefix.
func indent(s, prefix string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = prefix + l
	}
	return strings.Join(lines, "\n")
}
