package main

import (
	"context"
	"os"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

func TestMain(m *testing.M) {
	if os.Getenv(orphanEnv) == "1" {
		orphanStack() // the helper process of TestPruneCommand
	}
	testscript.Main(m, map[string]func(){
		"composegen": func() { os.Exit(run(context.Background(), os.Args[1:], newProc(os.Stdout, os.Stderr))) },
	})
}

func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			// go generate's variables must not leak in from the test run.
			env.Setenv("GOPACKAGE", "")
			env.Setenv("GOFILE", "")
			return nil
		},
	})
}
