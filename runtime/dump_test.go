package runtime

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/composegen/composegen/runtime/composeplan"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// reHostPort matches a published port's host address, which changes at
// each run.
var reHostPort = regexp.MustCompile(`127\.0\.0\.1:\d+`)

// golden compares got, with its host ports normalized, with
// testdata/name.golden (rewritten with -update).
func golden(t *testing.T, name, got string) {
	t.Helper()
	got = reHostPort.ReplaceAllString(got, "127.0.0.1:PORT") + "\n"
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run %s -update)", err, t.Name())
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s differs (-want +got; go test -run %s -update rewrites it):\n%s", path, t.Name(), diff)
	}
}

// dumpPlan: a broker that refuses its first probes, then answers; a
// database with a password; a migration that fails with interleaved stdout
// and stderr (one line holding the password); an app waiting for the
// migration.
func dumpPlan() (*composeplan.Plan, map[string]behaviour) {
	db := server("db", "db")
	db.Kind, db.Ports, db.Probe = "postgres", []composeplan.PortSpec{{Target: 5432, Protocol: "tcp"}}, &composeplan.ProbeSpec{Protocol: "postgres", Port: 5432}
	db.Environment = []composeplan.EnvVar{{Name: "POSTGRES_PASSWORD", Value: "hunter2-secret"}}
	migrate := composeplan.ServiceSpec{Name: "migrate", Image: "migrate"}
	migrate = dependsOn(dependsOn(migrate, "broker", "service_healthy"), "db", "service_healthy")
	app := dependsOn(server("app", "app"), "migrate", "service_completed_successfully")
	plan := fakePlan(app, server("broker", "broker"), db, migrate)
	return plan, map[string]behaviour{
		"broker": {listenAfter: 300 * time.Millisecond, protocol: "redis"},
		"db":     {listenAfter: 10 * time.Millisecond, protocol: "postgres"},
		"app":    {listenAfter: 10 * time.Millisecond, protocol: "redis"},
		"migrate": {exitAfter: 50 * time.Millisecond, exitCode: 3, output: []fakeLine{
			{text: "out1: connecting with password hunter2-secret"},
			{stderr: true, text: "err1: relation \"orders\" does not exist"},
			{text: "out2: rolling back"},
			{stderr: true, text: "err2: migration 0002 failed"},
		}},
	}
}

// TestStartFailureDumpGolden: a failed start reads top-down: the failing
// service with its cause and its output in order, then every other service
// in one line (state, readiness, ports), without the probe errors of the
// broker that became ready; the password is masked.
func TestStartFailureDumpGolden(t *testing.T) {
	t.Parallel()
	plan, scripts := dumpPlan()
	eng := newFakeEngine(t, scripts)
	_, err := upFake(t, eng, plan)
	if err == nil {
		t.Fatal("the start succeeded")
	}
	golden(t, "dump_start_failure", err.Error())
}

// TestTestFailureDumpGolden: the dump of a test failure puts the service in
// trouble first (one that exited after the start), with its output; the
// services that are fine follow, with their logs but without their
// start-up probe errors.
func TestTestFailureDumpGolden(t *testing.T) {
	t.Parallel()
	plan, scripts := dumpPlan()
	scripts["migrate"] = behaviour{exitAfter: 50 * time.Millisecond}
	scripts["app"] = behaviour{listenAfter: 10 * time.Millisecond, protocol: "redis", exitAfter: time.Second, exitCode: 1, output: []fakeLine{
		{text: "listening on :6379"},
		{stderr: true, text: "panic: nil map"},
	}}
	eng := newFakeEngine(t, scripts)
	s, err := upFake(t, eng, plan)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.replica("broker").probes) == 0 {
		t.Fatal("the broker's probes never failed: the test does not show that they are left out")
	}
	select {
	case <-s.replica("app").exitedCh:
	case <-time.After(time.Minute):
		t.Fatal("app did not exit")
	}
	golden(t, "dump_test_failure", s.Diagnostics(context.Background()))
}

// TestTimeoutDumpTopDown: when the start times out, the service the start
// waited for (running, not ready) comes first with its last probes and
// logs; the services waiting for it, and the ready ones, follow in one line
// each.
func TestTimeoutDumpTopDown(t *testing.T) {
	t.Parallel()
	plan, scripts := dumpPlan()
	scripts["broker"] = behaviour{} // never answers
	eng := newFakeEngine(t, scripts)
	_, err := upFake(t, eng, plan, WithTimeout(time.Second))
	if err == nil {
		t.Fatal("the start succeeded")
	}
	msg := err.Error()
	head, others, ok := strings.Cut(msg, "\nother services:\n")
	if !ok {
		t.Fatalf("no list of the other services:\n%s", msg)
	}
	if !strings.Contains(head, "not ready:\n"+`service "broker": running, not ready; ports 6379/tcp`) || !strings.Contains(head, "last probes:\n\t") {
		t.Errorf("the broker is not described first, with its probes:\n%s", msg)
	}
	if strings.Count(head, `service "`) != 1 {
		t.Errorf("more than the broker is described in full:\n%s", msg)
	}
	lines := strings.Split(others, "\n")
	slices.Sort(lines)
	want := []string{
		"\tapp: created, never started (waiting for its dependencies)",
		"\tdb: running, ready; ports 5432/tcp→127.0.0.1:PORT",
		"\tmigrate: created, never started (waiting for its dependencies)",
	}
	for i := range lines {
		lines[i] = reHostPort.ReplaceAllString(lines[i], "127.0.0.1:PORT")
	}
	if !slices.Equal(lines, want) {
		t.Errorf("other services:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}
