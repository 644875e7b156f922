// Command composeload loads compose files with compose-go and nothing
// else (cli.NewProjectOptions(...).LoadProject, as docker compose and
// testcontainers-go do): the whole-process reference for composegen's
// generation time.
//
//	go build -o /tmp/composeload ./cmd/composeload && /tmp/composeload -f compose.yaml
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/compose-spec/compose-go/v2/cli"
)

func main() {
	var files []string
	flag.Func("f", "compose `file` (repeatable)", func(s string) error { files = append(files, s); return nil })
	flag.Parse()
	po, err := cli.NewProjectOptions(files, cli.WithOsEnv, cli.WithDotEnv)
	if err == nil {
		_, err = po.LoadProject(context.Background())
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "composeload:", err)
		os.Exit(1)
	}
}
