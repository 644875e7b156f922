// Command composegen-kube is composegen's prune and doctor with the
// Kubernetes engine linked (composegen itself does not link it, so that
// client-go stays out of its module):
//
//	go run github.com/composegen/composegen/kube/cmd/composegen-kube@latest prune [-engine name] [-project name] [-v]
//	go run github.com/composegen/composegen/kube/cmd/composegen-kube@latest doctor [-engine name]
//
// The engine is Kubernetes unless -engine or COMPOSEGEN_ENGINE names
// another one; the cluster comes from KUBECONFIG or the current context,
// as for kubectl. Flags and output are those of composegen prune and
// composegen doctor; doctor -f is not offered (use composegen doctor -f).
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"

	"github.com/composegen/composegen/internal/cli"
	_ "github.com/composegen/composegen/kube"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `usage: composegen-kube prune [-engine name] [-project name] [-v]
       composegen-kube doctor [-engine name]

composegen's prune and doctor with the Kubernetes engine linked; the engine is
kubernetes unless -engine or COMPOSEGEN_ENGINE names another.`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if os.Getenv("COMPOSEGEN_ENGINE") == "" {
		os.Setenv("COMPOSEGEN_ENGINE", "kubernetes")
	}
	env := &cli.Env{Prog: "composegen-kube", Stdout: stdout, Stderr: stderr}
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return 2
	}
	switch args[0] {
	case "prune":
		return cli.Prune(ctx, env, args[1:])
	case "doctor":
		return cli.Doctor(ctx, env, args[1:])
	case "help", "-h", "-help", "--help":
		fmt.Fprintln(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "composegen-kube: unknown command %q\n%s\n", args[0], usage)
	return 2
}
