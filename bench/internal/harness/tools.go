package harness

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	cgruntime "github.com/composegen/composegen/runtime"
	tccompose "github.com/testcontainers/testcontainers-go/modules/compose"

	"github.com/composegen/composegen/bench/internal/countengine"
)

// Running is a stack a tool brought up.
type Running struct {
	// Down takes the stack down (nil when there is nothing to remove).
	Down func(context.Context) error
	// Targets are the check targets (DSN, address, URL) by service; nil
	// when they are to be found from the compose labels (PublishedTargets).
	Targets map[string]string
	// Runtime is composegen's stack (nil for the other tools).
	Runtime *cgruntime.Stack
	// Timeline is the per-service timeline (composegen's and the limit's).
	Timeline func() string
}

// Tool brings a stack up under a project name.
type Tool struct {
	Name string // "composegen", "testcontainers", "compose-cli", "limit"
	Up   func(ctx context.Context, st *Stack, project string) (*Running, error)
}

// Short tool names of the command lines.
const (
	Ours  = "composegen"
	TC    = "testcontainers"
	CLI   = "compose-cli"
	Limit = "limit"
)

// ToolConfig configures the tools.
type ToolConfig struct {
	// Logf receives composegen's log lines (with Verbose: every step and
	// the per-service timeline).
	Logf    func(format string, args ...any)
	Verbose bool
	// Timeout is composegen's start timeout (runtime.WithTimeout); 0
	// keeps its default.
	Timeout time.Duration
	// ProbeEvery is the limit's probe cadence; 0 is DefaultProbeEvery.
	ProbeEvery time.Duration
}

// ToolByFlag returns the tool for a -tools entry: ours, tc, cli, limit.
func ToolByFlag(name string, cfg ToolConfig) (Tool, error) {
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	switch name {
	case "ours":
		return Tool{Ours, func(ctx context.Context, st *Stack, project string) (*Running, error) {
			opts := []cgruntime.Option{
				cgruntime.WithProjectName(project),
				cgruntime.WithEngine(countengine.Name),
				cgruntime.WithLogf(cfg.Logf),
			}
			if cfg.Verbose {
				opts = append(opts, cgruntime.WithVerbose())
			}
			if cfg.Timeout > 0 {
				opts = append(opts, cgruntime.WithTimeout(cfg.Timeout))
			}
			return st.Ours(ctx, opts...)
		}}, nil
	case "tc":
		return Tool{TC, upTC}, nil
	case "cli":
		if err := exec.Command("docker", "compose", "version").Run(); err != nil {
			return Tool{}, fmt.Errorf("`docker compose version` failed: %v (install the compose v2 plugin, see bench/README.md)", err)
		}
		return Tool{CLI, upCLI}, nil
	case "limit":
		every := cfg.ProbeEvery
		if every <= 0 {
			every = DefaultProbeEvery
		}
		return Tool{Limit, func(ctx context.Context, st *Stack, project string) (*Running, error) {
			return upLimit(ctx, st, project, every)
		}}, nil
	}
	return Tool{}, fmt.Errorf("unknown tool %q (ours, tc, cli, limit)", name)
}

// upTC is testcontainers-go's compose module: NewDockerCompose, Up with
// Wait(true), Down removing orphans and volumes.
func upTC(ctx context.Context, st *Stack, project string) (*Running, error) {
	c, err := tccompose.NewDockerComposeWith(tccompose.WithStackFiles(st.File), tccompose.StackIdentifier(project))
	if err != nil {
		return nil, fmt.Errorf("NewDockerCompose: %w", err)
	}
	run := &Running{Down: func(ctx context.Context) error {
		defer c.Close()
		return c.Down(ctx, tccompose.RemoveOrphans(true), tccompose.RemoveVolumes(true))
	}}
	return run, c.Up(ctx, tccompose.Wait(true))
}

// upCLI is `docker compose up -d --wait` and `docker compose down -v`.
func upCLI(ctx context.Context, st *Stack, project string) (*Running, error) {
	dc := func(ctx context.Context, args ...string) error {
		cmd := exec.CommandContext(ctx, "docker", append([]string{"compose", "-p", project, "-f", st.File}, args...)...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		cmd.Env = os.Environ()
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("docker compose %v: %w\n%s", strings.Join(args, " "), err, lastLines(out.String(), 10))
		}
		return nil
	}
	run := &Running{Down: func(ctx context.Context) error { return dc(ctx, "down", "-v", "--remove-orphans") }}
	return run, dc(ctx, "up", "-d", "--wait")
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Root finds the bench module's directory from the working directory.
func Root() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		b, err := os.ReadFile(filepath.Join(d, "go.mod"))
		if err == nil && strings.Contains(string(b), "module github.com/composegen/composegen/bench\n") {
			return d, nil
		}
		if fi, err := os.Stat(filepath.Join(d, "bench", "go.mod")); err == nil && !fi.IsDir() {
			return filepath.Join(d, "bench"), nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("run inside the composegen repository (no bench/go.mod above %s)", dir)
		}
	}
}

// Resolve makes the stack's file absolute under the bench module root.
func (st *Stack) Resolve(root string) { st.File = filepath.Join(root, st.File) }

// Leftovers removes (and reports) containers and networks of the given
// projects that a run left behind: the limit's, by its label, and the
// compose tools', by project label.
func Leftovers(ctx context.Context, projects ...string) (n int) {
	c, err := dockerClient()
	if err != nil {
		return 0
	}
	want := map[string]bool{}
	for _, p := range projects {
		want[p] = true
	}
	for _, key := range []string{"com.docker.compose.project", BenchLabel + ".project"} {
		cs, err := listByLabel(ctx, c, key)
		if err == nil {
			for _, ct := range cs {
				if want[ct.Labels[key]] {
					n++
					_ = c.RemoveContainer(dockerRemove(ctx, ct.ID))
				}
			}
		}
		nets, err := c.FilteredListNetworks(map[string]map[string]bool{"label": {key: true}})
		if err == nil {
			for _, nw := range nets {
				if want[nw.Labels[key]] {
					n++
					_ = c.RemoveNetwork(nw.ID)
				}
			}
		}
	}
	return n
}
