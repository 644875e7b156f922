package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"

	cgruntime "github.com/composegen/composegen/runtime"
	tccompose "github.com/testcontainers/testcontainers-go/modules/compose"
)

func projectName(st *stackDef, tool string, run int) string {
	return fmt.Sprintf("bench-%s-%s-%d", st.name, tool, run)
}

// upOurs is composegen's generated Up (what Start calls) and Stack.Down.
func upOurs(verbose bool) func(ctx context.Context, st *stackDef, run int) (func(context.Context) error, error) {
	return func(ctx context.Context, st *stackDef, run int) (func(context.Context) error, error) {
		opts := []cgruntime.Option{
			cgruntime.WithProjectName(projectName(st, "ours", run)),
			cgruntime.WithLogf(func(format string, args ...any) {
				if verbose {
					fmt.Printf(format+"\n", args...)
				}
			}),
		}
		if verbose {
			opts = append(opts, cgruntime.WithVerbose())
		}
		return st.ours(ctx, opts...)
	}
}

// upTC is testcontainers-go's compose module: NewDockerCompose, Up with
// Wait(true), Down removing orphans and volumes.
func upTC(ctx context.Context, st *stackDef, run int) (func(context.Context) error, error) {
	c, err := tccompose.NewDockerComposeWith(tccompose.WithStackFiles(st.file), tccompose.StackIdentifier(projectName(st, "tc", run)))
	if err != nil {
		return nil, fmt.Errorf("NewDockerCompose: %w", err)
	}
	down := func(ctx context.Context) error {
		defer c.Close()
		return c.Down(ctx, tccompose.RemoveOrphans(true), tccompose.RemoveVolumes(true))
	}
	if err := c.Up(ctx, tccompose.Wait(true)); err != nil {
		return down, err
	}
	return down, nil
}

// upCLI is `docker compose up -d --wait` and `docker compose down -v`.
func upCLI(ctx context.Context, st *stackDef, run int) (func(context.Context) error, error) {
	p := projectName(st, "cli", run)
	dc := func(ctx context.Context, args ...string) error {
		cmd := exec.CommandContext(ctx, "docker", append([]string{"compose", "-p", p, "-f", st.file}, args...)...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		cmd.Env = os.Environ()
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("docker compose %v: %w\n%s", args, err, lastLines(out.String(), 10))
		}
		return nil
	}
	down := func(ctx context.Context) error { return dc(ctx, "down", "-v", "--remove-orphans") }
	if err := dc(ctx, "up", "-d", "--wait"); err != nil {
		return down, err
	}
	return down, nil
}

func lastLines(s string, n int) string {
	lines := bytes.Split(bytes.TrimRight([]byte(s), "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}
