package runtime

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/composegen/composegen/runtime/composeplan"
)

// TestStartFailureMasksSecretsByShape: secrets that no variable name gives
// away, a bearer token in a healthcheck's curl -H and a password in a
// libpq connection string of a variable named MY_CONN, are echoed by real
// containers (their logs and failing healthchecks); the start's error, the
// test log and the log files hold none of them, and show where they were
// masked.
func TestStartFailureMasksSecretsByShape(t *testing.T) {
	requireDocker(t)
	t.Parallel()
	hc := func(test string) *composeplan.HealthcheckSpec {
		return &composeplan.HealthcheckSpec{Test: []string{"CMD-SHELL", test},
			Interval: 200 * time.Millisecond, Timeout: 10 * time.Second, Retries: 3}
	}
	for _, tc := range []struct {
		name   string
		svc    composeplan.ServiceSpec
		secret string
		shown  []string // what the masked output must show, so that the test checks something
	}{{
		name: "bearer",
		svc: composeplan.ServiceSpec{Name: "api", Image: "debian:bookworm-slim",
			// A server that logs the requests it gets and answers 401.
			Command:     []string{"sh", "-c", `while true; do printf 'HTTP/1.0 401 Unauthorized\r\nContent-Length: 0\r\n\r\n' | nc -l -N 8080 || sleep 0.2; done`},
			Healthcheck: hc(`echo "rejected token s3cr3t-tok"; curl -v -fsS -H "Authorization: Bearer s3cr3t-tok" http://127.0.0.1:8080/ 2>&1 | grep '^> Authorization'; exit 1`)},
		secret: "s3cr3t-tok",
		shown:  []string{`curl -v -fsS -H "Authorization: Bearer ****"`, "rejected token ****", "> Authorization: Bearer ****"},
	}, {
		name: "dsn",
		svc: composeplan.ServiceSpec{Name: "app", Image: "busybox",
			Environment: []composeplan.EnvVar{{Name: "MY_CONN", Value: "host=db user=app password=hunter2x"}},
			Command:     []string{"sh", "-c", `echo "starting with $$MY_CONN"; exec sleep 300`},
			Healthcheck: hc(`echo "cannot connect: $$MY_CONN" >&2; exit 1`)},
		secret: "hunter2x",
		shown:  []string{"cannot connect: host=db user=app password=****", "starting with host=db user=app password=****"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			plan := &composeplan.Plan{Name: "rt-mask-" + tc.name, Services: []composeplan.ServiceSpec{tc.svc}}
			dir := t.TempDir()
			ft := &fakeTB{name: "TestFake"}
			project := instanceName(plan.Name)
			returned := false
			ft.run(func() {
				Start(ft, plan, WithProjectName(project), WithLogDir(dir), WithTimeout(2*time.Minute))
				returned = true
			})
			ft.finish()
			if returned || len(ft.fatals) != 1 {
				t.Fatalf("Start did not fail the test once (returned %v):\n%s", returned, ft.output())
			}
			all := ft.output()
			_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
				if err == nil && !d.IsDir() {
					b, _ := os.ReadFile(p)
					all += "\n--- " + p + "\n" + string(b)
				}
				return nil
			})
			if strings.Contains(all, tc.secret) {
				t.Errorf("the secret %q is in the output:\n%s", tc.secret, all)
			}
			for _, want := range tc.shown {
				if !strings.Contains(all, want) {
					t.Errorf("the output lacks %q:\n%s", want, all)
				}
			}
			assertNoneLeft(t, project)
		})
	}
}
