// Package tcmain is TestMain with testcontainers-go's compose module: the
// package's stack comes up with Up(ctx, Wait(true)) around the tests and
// goes with Down (orphans and volumes removed). Its reaper image (ryuk)
// cannot be pulled offline: run with TESTCONTAINERS_RYUK_DISABLED=true.
package tcmain

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	tccompose "github.com/testcontainers/testcontainers-go/modules/compose"

	"github.com/composegen/composegen/bench/suite/internal/work"
)

// Main runs the package's tests on a stack of testcontainers-go.
func Main(m *testing.M) int {
	if work.Mode() != "tc" {
		return m.Run()
	}
	ctx := context.Background()
	_, file, _, _ := runtime.Caller(0)
	compose := filepath.Join(filepath.Dir(file), "../../compose.yaml")
	var b [4]byte
	_, _ = rand.Read(b[:])
	c, err := tccompose.NewDockerComposeWith(tccompose.WithStackFiles(compose), tccompose.StackIdentifier("suitetc-"+hex.EncodeToString(b[:])))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer c.Close()
	defer c.Down(ctx, tccompose.RemoveOrphans(true), tccompose.RemoveVolumes(true))
	if err := c.Up(ctx, tccompose.Wait(true)); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	// The IPv4 binding of a published port: Docker 20.10 may publish the
	// IPv6 one on another host port, and MappedPort returns whichever comes
	// first.
	endpoint := func(service string, port uint16) string {
		ctr, err := c.ServiceContainer(ctx, service)
		if err != nil {
			panic(err)
		}
		inspect, err := ctr.Inspect(ctx)
		if err != nil {
			panic(err)
		}
		for k, bindings := range inspect.NetworkSettings.Ports {
			if k.Num() != port || k.Proto() != "tcp" {
				continue
			}
			for _, b := range bindings {
				if !b.HostIP.IsValid() || b.HostIP.Is4() {
					return "127.0.0.1:" + b.HostPort
				}
			}
		}
		panic(fmt.Sprintf("%s: port %d is not published on IPv4", service, port))
	}
	work.SetEndpoints(work.Endpoints{
		DSN:      "postgres://bench:bench-secret@" + endpoint("postgres", 5432) + "/bench?sslmode=disable",
		RedisURL: "redis://" + endpoint("redis", 6379) + "/0",
		HTTP:     "http://" + endpoint("nginx", 80),
	})
	return m.Run()
}
