package itest_test

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/composegen/composegen/example/itest"
)

// stack is shared by every test of the binary.
var stack *itest.Stack

// run starts the stack, runs the tests and tears the stack down. TestMain
// calls it as os.Exit(run(m)): os.Exit skips deferred calls, so Down is
// deferred here and not in TestMain.
func run(m *testing.M) int {
	var err error
	stack, err = itest.Up(context.Background()) // on error nothing is left behind
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer stack.Down(context.Background())
	return m.Run()
}

// One stack for a whole test binary: Up in TestMain, and Down when the
// tests are done, whatever their result. (A test that panics ends the
// process before the deferred Down; the next start on the host removes
// what it left.) This file is the example: the declarations above and the
// TestMain below.
func ExampleUp() {
	// In a _test.go file of the package whose tests share the stack:
	//
	//	func TestMain(m *testing.M) { os.Exit(run(m)) }
	//
	// and in the tests, stack.Postgres.DSN(), stack.Redis.Addr()...
	_ = run
}
