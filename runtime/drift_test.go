package runtime

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/composegen/composegen/runtime/composeplan"
	"github.com/composegen/composegen/runtime/engine"
)

const driftCompose = "services:\n  web:\n    image: busybox\n    ports: [\"8080\"]\n"

// driftDir lays out a generated package (dir/pkg) below its compose file
// (dir/compose.yaml, content as generated) and returns the package's
// directory and a plan generated from it.
func driftDir(t *testing.T, services ...composeplan.ServiceSpec) (string, *composeplan.Plan) {
	t.Helper()
	dir := t.TempDir()
	pkg := filepath.Join(dir, "pkg")
	if err := os.Mkdir(pkg, 0o755); err != nil {
		t.Fatal(err)
	}
	writeDriftFile(t, filepath.Join(dir, "compose.yaml"), driftCompose)
	plan := &composeplan.Plan{Name: "drift", Dir: "..", Services: services,
		Files:  []string{"../compose.yaml"},
		Inputs: []composeplan.Input{{Path: "../compose.yaml", SHA256: composeplan.HashContent([]byte(driftCompose))}},
	}
	return pkg, plan
}

func writeDriftFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestHashContentLineEnds(t *testing.T) {
	lf := composeplan.HashContent([]byte("a: 1\nb: 2\n"))
	if crlf := composeplan.HashContent([]byte("a: 1\r\nb: 2\r\n")); crlf != lf {
		t.Errorf("CRLF hash %s != LF hash %s", crlf, lf)
	}
	if other := composeplan.HashContent([]byte("a: 1\nb: 3\n")); other == lf {
		t.Error("different content, same hash")
	}
	if len(lf) != 64 {
		t.Errorf("hash %q is not a hex SHA-256", lf)
	}
}

func TestCheckDrift(t *testing.T) {
	pkg, plan := driftDir(t)
	t.Chdir(pkg) // go test runs in the package's directory
	compose := filepath.Join(pkg, "..", "compose.yaml")
	var logs []string
	logf := func(format string, args ...any) { logs = append(logs, format+strconv.Itoa(len(args))) }

	if err := checkDrift(plan, pkg, logf); err != nil {
		t.Fatalf("unchanged file: %v", err)
	}
	writeDriftFile(t, compose, strings.ReplaceAll(driftCompose, "\n", "\r\n"))
	if err := checkDrift(plan, pkg, logf); err != nil {
		t.Fatalf("the same file with CRLF line ends: %v", err)
	}

	writeDriftFile(t, compose, strings.Replace(driftCompose, "8080", "8081", 1))
	err := checkDrift(plan, pkg, logf)
	if !errors.Is(err, ErrDrift) {
		t.Fatalf("changed file: got %v, want ErrDrift", err)
	}
	for _, want := range []string{"../compose.yaml changed since go generate", "run go generate ./...", "COMPOSEGEN_DRIFT=warn"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}

	// The file is named relative to the working directory.
	t.Chdir("..")
	if err := checkDrift(plan, pkg, logf); err == nil || !strings.HasPrefix(err.Error(), "compose.yaml changed since go generate") {
		t.Errorf("from the compose file's directory: got %v, want the error to name compose.yaml", err)
	}

	t.Setenv("COMPOSEGEN_DRIFT", "off")
	if err := checkDrift(plan, pkg, logf); err != nil {
		t.Errorf("COMPOSEGEN_DRIFT=off: %v", err)
	}
	t.Setenv("COMPOSEGEN_DRIFT", "yes")
	if err := checkDrift(plan, pkg, logf); err == nil || !strings.Contains(err.Error(), `COMPOSEGEN_DRIFT="yes"`) {
		t.Errorf("COMPOSEGEN_DRIFT=yes: got %v, want an error naming the value", err)
	}
	if len(logs) != 0 {
		t.Errorf("logged %q before warn mode", logs)
	}

	os.Remove(compose)
	t.Setenv("COMPOSEGEN_DRIFT", "")
	if err := checkDrift(plan, pkg, logf); err != nil {
		t.Errorf("missing file: %v, want no error", err)
	}
	if err := checkDrift(&composeplan.Plan{Name: "old"}, pkg, logf); err != nil {
		t.Errorf("plan without inputs: %v", err)
	}
}

// TestDriftFailsBeforeTheEngine: a stale plan fails Up and Start before an
// engine is even opened, so nothing is created; Start fails the test with
// the file and the fix and registers no cleanup.
func TestDriftFailsBeforeTheEngine(t *testing.T) {
	pkg, plan := driftDir(t, composeplan.ServiceSpec{Name: "web", Image: "busybox"})
	t.Chdir(pkg)
	writeDriftFile(t, filepath.Join(pkg, "..", "compose.yaml"), strings.Replace(driftCompose, "8080", "8081", 1))
	var opened atomic.Int32
	name := "drift-" + strconv.Itoa(int(fakeSeq.Add(1)))
	engine.Register(name, func(ctx context.Context) (engine.Engine, error) {
		opened.Add(1)
		return newFakeEngine(t, nil), nil
	})
	opts := []Option{WithEngine(name), WithDir(pkg), WithLogf(t.Logf)}

	s, err := Up(context.Background(), plan, opts...)
	if s != nil || !errors.Is(err, ErrDrift) {
		t.Fatalf("Up = %v, %v; want ErrDrift", s, err)
	}
	if want := "start drift: ../compose.yaml changed since go generate: run go generate ./..."; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error %q does not start with %q", err, want)
	}

	tb := &fakeTB{name: t.Name()}
	tb.run(func() { Start(tb, plan, opts...) })
	if !tb.Failed() || !strings.Contains(tb.output(), "../compose.yaml changed since go generate: run go generate ./...") {
		t.Errorf("Start did not fail the test with the drift:\n%s", tb.output())
	}
	if len(tb.cleanups) != 0 {
		t.Errorf("Start registered %d cleanups for a start that never began", len(tb.cleanups))
	}

	tb = &fakeTB{name: t.Name()}
	tb.run(func() { Shared(tb, plan, opts...) })
	if !tb.Failed() || !strings.Contains(tb.output(), "shared stack of drift: ../compose.yaml changed since go generate") {
		t.Errorf("Shared did not fail the test with the drift:\n%s", tb.output())
	}
	if n := opened.Load(); n != 0 {
		t.Errorf("the engine was opened %d times for a stale plan", n)
	}
}

// TestDriftWarn: with COMPOSEGEN_DRIFT=warn the stack of the generated plan
// starts, and the warning is logged once per process.
func TestDriftWarn(t *testing.T) {
	t.Setenv("COMPOSEGEN_DRIFT", "warn")
	eng := newFakeEngine(t, map[string]behaviour{"web": {listenAfter: 1, protocol: "redis"}})
	pkg, plan := driftDir(t, server("web", "web"))
	t.Chdir(pkg)
	writeDriftFile(t, filepath.Join(pkg, "..", "compose.yaml"), strings.Replace(driftCompose, "8080", "8081", 1))
	var logs []string
	logf := func(format string, args ...any) {
		if msg := fmt.Sprintf(format, args...); strings.Contains(msg, "go generate") {
			logs = append(logs, msg)
		}
	}
	for i := 0; i < 2; i++ {
		s, err := upFake(t, eng, plan, WithDir(pkg), WithLogf(logf))
		if err != nil {
			t.Fatalf("start %d with COMPOSEGEN_DRIFT=warn: %v", i+1, err)
		}
		if s.Service("web") == nil {
			t.Fatal("service web not started")
		}
	}
	if len(logs) != 1 {
		t.Fatalf("logged %d drift warnings, want 1: %q", len(logs), logs)
	}
	if want := "composegen: warning: ../compose.yaml changed since go generate"; !strings.HasPrefix(logs[0], want) || !strings.Contains(logs[0], "run go generate ./...") {
		t.Errorf("warning %q: want it to start with %q and say to run go generate", logs[0], want)
	}
}
