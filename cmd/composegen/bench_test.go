package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"

	"github.com/composegen/composegen/cmd/composegen/internal/emit"
	"github.com/composegen/composegen/cmd/composegen/internal/load"
	"github.com/composegen/composegen/cmd/composegen/internal/model"
)

// benchFiles are the compose files generation is measured on: the
// example's and the benchmark stack of bench/ (issue 5).
var benchFiles = []struct{ name, file string }{
	{"example", "../../example/compose.yaml"},
	{"chain5", "../../bench/stacks/chain5/compose.yaml"},
}

func benchFile(b *testing.B, f string) string {
	b.Helper()
	abs, err := filepath.Abs(f)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := os.Stat(abs); err != nil {
		b.Skipf("%s: %v", f, err)
	}
	return abs
}

// BenchmarkGenerate is the generator's three stages, load (compose-go
// plus our positions and variable handling), model and emit (jennifer and
// gofmt), in memory.
func BenchmarkGenerate(b *testing.B) {
	for _, bf := range benchFiles {
		b.Run(bf.name, func(b *testing.B) {
			file := benchFile(b, bf.file)
			ctx := context.Background()
			out := b.TempDir()
			b.ReportAllocs()
			for b.Loop() {
				res, err := load.Load(ctx, load.Options{Files: []string{file}, WorkDir: filepath.Dir(file), OutDir: out})
				if err != nil {
					b.Fatal(err)
				}
				proj, err := model.Build(res, model.BuildOptions{Package: "itest"})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := emit.File(proj); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkGenerateCLI is the whole command as go generate runs it: flags,
// load, model, emit and the atomic write of the output file.
func BenchmarkGenerateCLI(b *testing.B) {
	for _, bf := range benchFiles {
		b.Run(bf.name, func(b *testing.B) {
			file := benchFile(b, bf.file)
			out := filepath.Join(b.TempDir(), "compose_gen.go")
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if code := run(ctx, []string{"-f", file, "-o", out, "-pkg", "itest"}, newProc(io.Discard, io.Discard)); code != 0 {
					b.Fatalf("exit %d", code)
				}
			}
		})
	}
}

// BenchmarkComposeGoLoad is the reference: compose-go loading the same
// file on its own, as docker compose and testcontainers-go do
// (cli.NewProjectOptions(...).LoadProject).
func BenchmarkComposeGoLoad(b *testing.B) {
	for _, bf := range benchFiles {
		b.Run(bf.name, func(b *testing.B) {
			file := benchFile(b, bf.file)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				po, err := cli.NewProjectOptions([]string{file}, cli.WithOsEnv, cli.WithDotEnv, cli.WithWorkingDirectory(filepath.Dir(file)))
				if err != nil {
					b.Fatal(err)
				}
				if _, err := po.LoadProject(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
