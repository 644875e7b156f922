package runtime

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/composegen/composegen/runtime/composeplan"
)

func pgRedisPlan() *composeplan.Plan {
	return &composeplan.Plan{
		Name: "rt-test",
		Services: []composeplan.ServiceSpec{
			{
				Name: "postgres", Image: "postgres:16", Kind: "postgres",
				Environment: []composeplan.EnvVar{
					{Name: "POSTGRES_DB", Value: "app"},
					{Name: "POSTGRES_PASSWORD", Value: "${RT_TEST_PG_PASSWORD:-s3cret}"},
					{Name: "POSTGRES_USER", Value: "app"},
				},
				Ports: []composeplan.PortSpec{{Target: 5432, Protocol: "tcp", Published: "5432"}},
				Healthcheck: &composeplan.HealthcheckSpec{
					Test:     []string{"CMD-SHELL", "pg_isready -h 127.0.0.1 -U app -d app"},
					Interval: 5 * time.Second, Timeout: 5 * time.Second, Retries: 10,
				},
			},
			{
				Name: "redis", Image: "redis:7-alpine", Kind: "redis",
				Ports: []composeplan.PortSpec{{Target: 6379, Protocol: "tcp"}},
				Probe: &composeplan.ProbeSpec{Protocol: "redis", Port: 6379},
			},
			{
				Name: "migrate", Image: "postgres:16",
				Entrypoint:  []string{"sh", "-c", "psql postgres://app:$$PGPASS@postgres:5432/app -c 'create table t(id int)'"},
				Environment: []composeplan.EnvVar{{Name: "PGPASS", Value: "${RT_TEST_PG_PASSWORD:-s3cret}"}},
				DependsOn:   []composeplan.Dependency{{Service: "postgres", Condition: "service_healthy", Required: true}},
			},
			{
				Name: "after", Image: "busybox", Lifecycle: composeplan.LifecycleWorker,
				Command:   []string{"sleep", "300"},
				DependsOn: []composeplan.Dependency{{Service: "migrate", Condition: "service_completed_successfully", Required: true}},
			},
		},
	}
}

func TestUpDown(t *testing.T) {
	requireDocker(t)
	t.Setenv("RT_TEST_PG_PASSWORD", "from-env")
	s := Start(t, pgRedisPlan(), WithVerbose())
	pg := s.Service("postgres")
	if got := pg.Env("POSTGRES_PASSWORD"); got != "from-env" {
		t.Errorf("POSTGRES_PASSWORD = %q, want interpolated from the environment", got)
	}
	if p := pg.Port(5432, "tcp"); p.HostPort == 5432 || p.HostPort == 0 {
		t.Errorf("postgres published on %d, want an ephemeral port", p.HostPort)
	}
	conn, err := net.DialTimeout("tcp", s.Service("redis").Port(6379, "tcp").Addr(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	conn.Write([]byte("PING\r\n"))
	buf := make([]byte, 7)
	conn.Read(buf)
	conn.Close()
	if !strings.HasPrefix(string(buf), "+PONG") {
		t.Errorf("redis answered %q", buf)
	}
	res, err := pg.Exec(context.Background(), "psql", "-U", "app", "-d", "app", "-tAc", "select count(*) from t")
	if err != nil || strings.TrimSpace(res.Stdout) != "0" {
		t.Errorf("migration did not run before 'after' started: %v %+v", err, res)
	}
	if s.Service("after") == nil {
		t.Error("after not started")
	}
}

func TestParallelStacks(t *testing.T) {
	requireDocker(t)
	t.Parallel()
	var wg sync.WaitGroup
	plan := pgRedisPlan()
	plan.Services = plan.Services[1:2] // redis
	ports := make([]int, 3)
	for i := range ports {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			s, err := Up(context.Background(), plan)
			if err != nil {
				t.Error(err)
				return
			}
			defer s.Down(context.Background())
			ports[i] = s.Service("redis").Port(6379, "tcp").HostPort
		}(i)
	}
	wg.Wait()
	if ports[0] == ports[1] || ports[1] == ports[2] || ports[0] == ports[2] {
		t.Errorf("parallel stacks share host ports: %v", ports)
	}
}

func TestFailingOneShot(t *testing.T) {
	requireDocker(t)
	t.Parallel()
	plan := &composeplan.Plan{Name: "rt-fail", Services: []composeplan.ServiceSpec{
		{Name: "init", Image: "busybox", Command: []string{"sh", "-c", "echo boom >&2; exit 3"}},
		{Name: "app", Image: "busybox", Command: []string{"sleep", "300"}, Lifecycle: composeplan.LifecycleWorker,
			DependsOn: []composeplan.Dependency{{Service: "init", Condition: "service_completed_successfully", Required: true}}},
	}}
	// A generous bound: a failed one-shot must fail the start at once, so
	// the error below is the exit, not this timeout.
	_, err := Up(context.Background(), plan, WithTimeout(2*time.Minute))
	if err == nil {
		t.Fatal("Up succeeded")
	}
	if !strings.Contains(err.Error(), `"init"`) || !strings.Contains(err.Error(), "code 3") || !strings.Contains(err.Error(), "boom") {
		t.Errorf("error does not name the service, the exit code and the logs: %v", err)
	}
}
