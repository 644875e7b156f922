package runtime

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/composegen/composegen/runtime/composeplan"
	"github.com/composegen/composegen/runtime/internal/interp"
	"github.com/composegen/composegen/runtime/internal/label"
	"github.com/composegen/composegen/runtime/internal/lock"
	"github.com/composegen/composegen/runtime/internal/mask"
)

// keyPlan reads a variable, an env file and a bind-mounted directory.
func keyPlan() *composeplan.Plan {
	return &composeplan.Plan{
		Name:     "keys",
		EnvFiles: []composeplan.EnvFile{{Path: ".env"}},
		Services: []composeplan.ServiceSpec{{
			Name: "db", Image: "img", Kind: "postgres",
			Environment: []composeplan.EnvVar{
				{Name: "POSTGRES_PASSWORD", Value: "${KEY_TEST_PASSWORD:-dflt}"},
				{Name: "FROM_ENV", FromEnv: true},
			},
			Labels:   map[string]string{"a": "1", "b": "2", "c": "${KEY_TEST_LABEL:-x}", "d": "4"},
			EnvFiles: []composeplan.EnvFile{{Path: "db.env"}},
			Mounts:   []composeplan.MountSpec{{Type: "bind", Source: "./init", Target: "/docker-entrypoint-initdb.d"}},
			Profiles: []string{"db"},
		}},
	}
}

// keyEnv is a project directory for keyPlan.
func keyEnv(t *testing.T) string {
	dir := t.TempDir()
	write := func(name, content string) {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(".env", "KEY_TEST_LABEL=from-dotenv\n")
	write("db.env", "X=1\n")
	write("init/01.sql", "create table t(id int);\n")
	write("init/sub/02.sql", "insert into t values (1);\n")
	return dir
}

// keyEngine is the engine of the key tests: one, so that its endpoint is
// the same for every computation.
var keyEngine = sync.OnceValue(func() *fakeEngine {
	return &fakeEngine{t: &testing.T{}, scripts: map[string]behaviour{"img": {}, "img2": {}}}
})

func keysOf(t *testing.T, plan *composeplan.Plan, dir, scope string, opts ...Option) sharedKeys {
	t.Helper()
	eng := keyEngine()
	cfg := newConfig(opts)
	res, err := interp.New(dir, plan.EnvFiles, cfg.env, &mask.Masker{})
	if err != nil {
		t.Fatal(err)
	}
	k, err := computeKeys(context.Background(), eng, plan, cfg, dir, res, scope)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// The key changes with everything the stack is started from, and only
// with that; the origin only with the options.
func TestSharedKey(t *testing.T) {
	t.Setenv("KEY_TEST_PASSWORD", "hunter2-secret")
	t.Setenv("FROM_ENV", "a")
	dir := keyEnv(t)
	base := keysOf(t, keyPlan(), dir, "run1")
	for i := 0; i < 20; i++ { // map order, walk order
		if k := keysOf(t, keyPlan(), dir, "run1"); k != base {
			t.Fatalf("computation %d gave another key: %v, want %v", i, k, base)
		}
	}
	if strings.Contains(base.key+base.origin, "hunter2") || len(base.key) != 64 {
		t.Fatalf("key %q is not a plain hash", base.key)
	}
	same := func(what string, k sharedKeys) {
		t.Helper()
		if k.key != base.key {
			t.Errorf("%s changed the key", what)
		}
	}
	changed := func(what string, k sharedKeys, originToo bool) {
		t.Helper()
		if k.key == base.key {
			t.Errorf("%s did not change the key", what)
		}
		if (k.origin != base.origin) != originToo {
			t.Errorf("%s: origin changed = %v, want %v", what, k.origin != base.origin, originToo)
		}
	}
	t.Run("unrelated variable", func(t *testing.T) {
		t.Setenv("KEY_TEST_UNRELATED", "x")
		same("an unrelated variable", keysOf(t, keyPlan(), dir, "run1"))
	})
	t.Run("secret value", func(t *testing.T) {
		t.Setenv("KEY_TEST_PASSWORD", "hunter3-secret")
		changed("a secret's value", keysOf(t, keyPlan(), dir, "run1"), false)
	})
	t.Run("bare variable", func(t *testing.T) {
		t.Setenv("FROM_ENV", "b")
		changed("a - NAME variable's value", keysOf(t, keyPlan(), dir, "run1"), false)
	})
	t.Run("WithEnv", func(t *testing.T) {
		changed("WithEnv", keysOf(t, keyPlan(), dir, "run1", WithEnv("KEY_TEST_LABEL", "opt")), false)
	})
	t.Run("dotenv", func(t *testing.T) {
		d := keyEnv(t)
		if err := os.WriteFile(filepath.Join(d, ".env"), []byte("KEY_TEST_LABEL=changed\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		k := keysOf(t, keyPlan(), d, "run1")
		if k.key == keysOf(t, keyPlan(), keyEnv(t), "run1").key {
			t.Error("a .env value did not change the key")
		}
	})
	t.Run("files", func(t *testing.T) {
		for _, f := range []string{"db.env", "init/sub/02.sql"} {
			d := keyEnv(t)
			ref := keysOf(t, keyPlan(), d, "run1")
			if err := os.WriteFile(filepath.Join(d, f), []byte("changed\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			if k := keysOf(t, keyPlan(), d, "run1"); k.key == ref.key || k.origin != ref.origin {
				t.Errorf("changing %s: key changed %v, origin changed %v; want true, false", f, k.key != ref.key, k.origin != ref.origin)
			}
		}
	})
	t.Run("plan", func(t *testing.T) {
		p := keyPlan()
		p.Services[0].Image = "img2"
		changed("the image", keysOf(t, p, dir, "run1"), false)
	})
	t.Run("options", func(t *testing.T) {
		changed("WithProfiles", keysOf(t, keyPlan(), dir, "run1", WithProfiles("db")), true)
		changed("WithServices", keysOf(t, keyPlan(), dir, "run1", WithServices("db")), true)
		changed("WithScale", keysOf(t, keyPlan(), dir, "run1", WithScale("db", 2)), true)
		changed("WithFixedPorts", keysOf(t, keyPlan(), dir, "run1", WithFixedPorts()), true)
		changed("WithReuse", keysOf(t, keyPlan(), dir, "run1", WithReuse()), true)
		changed("another run", keysOf(t, keyPlan(), dir, "run2"), true)
		same("WithTimeout", keysOf(t, keyPlan(), dir, "run1", WithTimeout(time.Hour)))
		same("WithVerbose", keysOf(t, keyPlan(), dir, "run1", WithVerbose()))
	})
}

func TestSharedProjectName(t *testing.T) {
	key := strings.Repeat("ab", 32)
	if got := sharedProjectName("My App!", key); got != "myapp-sabababababab" {
		t.Errorf("sharedProjectName = %q", got)
	}
	if got := sharedProjectName("", key); !strings.HasPrefix(got, "composegen-s") {
		t.Errorf("sharedProjectName(\"\") = %q", got)
	}
	// Prune of a shared stack by its name finds the files of its key.
	t.Setenv("TMPDIR", t.TempDir())
	if err := lock.EnsurePrivateDir(lock.Root()); err != nil {
		t.Fatal(err)
	}
	lockFile := lock.SharedBase(key) + ".lock"
	if err := os.WriteFile(lockFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if removed := lock.Prune(nil, nil, sharedProjectName("My App!", key)); len(removed) != 1 || removed[0] != lockFile {
		t.Errorf("Prune of the shared stack of key removed %q, want its lock file", removed)
	}
}

// The runtime obeys the plan's Lifecycle; for a service without one it
// applies the signs the plan carries, and leaves the rest unclassified.
func TestClassifyUnits(t *testing.T) {
	s := &Stack{units: map[string]*unit{}}
	add := func(spec composeplan.ServiceSpec) {
		u := newUnit(s, &spec)
		s.units[spec.Name] = u
		s.order = append(s.order, u)
	}
	add(composeplan.ServiceSpec{Name: "db", Kind: "postgres", Ports: []composeplan.PortSpec{{Target: 5432}}})
	add(composeplan.ServiceSpec{Name: "migrate", DependsOn: []composeplan.Dependency{{Service: "db", Condition: "service_healthy"}}})
	add(composeplan.ServiceSpec{Name: "seed", DependsOn: []composeplan.Dependency{{Service: "migrate", Condition: "service_completed_successfully"}}})
	add(composeplan.ServiceSpec{Name: "web", Ports: []composeplan.PortSpec{{Target: 80}}, DependsOn: []composeplan.Dependency{{Service: "seed", Condition: "service_completed_successfully"}}})
	add(composeplan.ServiceSpec{Name: "worker", Restart: "unless-stopped"})
	add(composeplan.ServiceSpec{Name: "checked", Healthcheck: &composeplan.HealthcheckSpec{Test: []string{"CMD", "true"}}})
	add(composeplan.ServiceSpec{Name: "retrying", Restart: "on-failure:3"})
	add(composeplan.ServiceSpec{Name: "needed"})
	add(composeplan.ServiceSpec{Name: "needs", DependsOn: []composeplan.Dependency{{Service: "needed", Condition: "service_healthy"}}})
	add(composeplan.ServiceSpec{Name: "declared", Lifecycle: composeplan.LifecycleOneShot, Restart: "always"})
	add(composeplan.ServiceSpec{Name: "declared-worker", Lifecycle: composeplan.LifecycleWorker})
	add(composeplan.ServiceSpec{Name: "terminal", Tty: true, StdinOpen: true})
	s.classifyUnits()
	want := map[string]lifecycle{
		"db": lifeWorker, "migrate": lifeOneShot, "seed": lifeOneShot, "web": lifeWorker,
		"worker": lifeWorker, "checked": lifeWorker, "retrying": lifeUnclassified, "needed": lifeWorker,
		"needs": lifeUnclassified, "declared": lifeOneShot, "declared-worker": lifeWorker, "terminal": lifeWorker,
	}
	for _, u := range s.order {
		if u.life != want[u.spec.Name] {
			t.Errorf("%s: lifecycle %d, want %d", u.spec.Name, u.life, want[u.spec.Name])
		}
	}
}

// A stack is rebuilt from its containers; a container that stopped is
// reported with the service's name, and Down refuses.
func TestSharedRebuild(t *testing.T) {
	eng := newFakeEngine(t, map[string]behaviour{
		"redis": {listenAfter: 10 * time.Millisecond, protocol: "redis"},
		"job":   {exitAfter: 10 * time.Millisecond},
	})
	plan := fakePlan(
		composeplan.ServiceSpec{Name: "cache", Image: "redis", Kind: "redis",
			Ports: []composeplan.PortSpec{{Target: 6379, Protocol: "tcp"}},
			Probe: &composeplan.ProbeSpec{Protocol: "redis", Port: 6379}},
		composeplan.ServiceSpec{Name: "job", Image: "job"},
	)
	key := strings.Repeat("0", 64)
	started, err := upFake(t, eng, plan, func(c *config) { c.labels = map[string]string{label.Shared: key} })
	if err != nil {
		t.Fatal(err)
	}
	if err := started.Settle(context.Background()); err != nil {
		t.Fatal(err)
	}
	list, err := eng.List(context.Background(), map[string]string{label.Shared: key})
	if err != nil {
		t.Fatal(err)
	}
	sh := &sharedStart{plan: plan, cfg: started.cfg, eng: eng, dir: started.dir, res: started.res, mask: started.mask, keys: sharedKeys{key: key}, project: started.project}
	s, err := sh.rebuild(context.Background(), list, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := s.Service("cache").Addr(6379), started.Service("cache").Addr(6379); got != want {
		t.Errorf("rebuilt address %s, want %s", got, want)
	}
	if !s.replica("job").isCompleted() {
		t.Error("the completed one-shot is not completed in the rebuilt stack")
	}
	if err := s.Settle(context.Background()); err != nil {
		t.Errorf("Settle on the rebuilt stack: %v", err)
	}
	if err := s.Down(context.Background()); !errors.Is(err, ErrShared) {
		t.Errorf("Down on a shared stack: %v, want ErrShared", err)
	}
	if err := s.sharedHealth(); err != nil {
		t.Errorf("health of a running stack: %v", err)
	}
	if err := eng.Kill(context.Background(), s.Service("cache").ContainerID(), ""); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for s.sharedHealth() == nil && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if err := s.sharedHealth(); err == nil || !strings.Contains(err.Error(), `service "cache" stopped`) {
		t.Errorf("health after the container was killed: %v", err)
	}
	if _, err := sh.rebuild(context.Background(), list, nil); err == nil || !strings.Contains(err.Error(), `service "cache": its container is exited`) {
		t.Errorf("rebuild with a dead container: %v", err)
	}
}

// An unclassified service that the start took as long-running (it ran
// past its grace) may still be a slow one-shot when another test binary
// attaches: its exit with code 0 later is its completion, not a stop, in
// the process that started the stack and in one that attached while it
// ran. An exit with another code is reported as the one-shot's failure.
func TestSharedOneShotCompletesAfterReady(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		code int
	}{{"exit 0", 0}, {"exit 3", 3}} {
		t.Run(tc.name, func(t *testing.T) {
			eng := newFakeEngine(t, map[string]behaviour{
				"redis": {listenAfter: 10 * time.Millisecond, protocol: "redis"},
				"seed":  {exitAfter: 500 * time.Millisecond, exitCode: tc.code},
			})
			plan := fakePlan(
				composeplan.ServiceSpec{Name: "cache", Image: "redis", Kind: "redis",
					Ports: []composeplan.PortSpec{{Target: 6379, Protocol: "tcp"}},
					Probe: &composeplan.ProbeSpec{Protocol: "redis", Port: 6379}},
				composeplan.ServiceSpec{Name: "seed", Image: "seed"},
			)
			key := strings.Repeat("1", 64)
			started, err := upFake(t, eng, plan, func(c *config) {
				c.labels = map[string]string{label.Shared: key}
				c.grace = 50 * time.Millisecond
			})
			if err != nil {
				t.Fatal(err)
			}
			started.shared = true
			list, err := eng.List(context.Background(), map[string]string{label.Shared: key})
			if err != nil {
				t.Fatal(err)
			}
			sh := &sharedStart{plan: plan, cfg: started.cfg, eng: eng, dir: started.dir, res: started.res, mask: started.mask, keys: sharedKeys{key: key}, project: started.project}
			attached, err := sh.rebuild(context.Background(), list, nil)
			if err != nil {
				t.Fatal(err)
			}
			if closed(attached.replica("seed").exitedCh) {
				t.Fatal("the seed had already exited when the test attached: the test checks nothing")
			}
			for name, s := range map[string]*Stack{"started": started, "attached": attached} {
				<-s.replica("seed").exitedCh
				err := s.Settle(context.Background())
				herr := s.sharedHealth()
				if tc.code == 0 {
					if err != nil || herr != nil {
						t.Errorf("%s stack: Settle: %v; health: %v; want both nil", name, err, herr)
					}
					continue
				}
				if err == nil || !strings.Contains(err.Error(), "exited with code 3") {
					t.Errorf("%s stack: Settle: %v, want the seed's exit code 3", name, err)
				}
				if herr == nil || !strings.Contains(herr.Error(), `one-shot service "seed" exited with code 3`) {
					t.Errorf("%s stack: health: %v, want the seed's exit code 3", name, herr)
				}
			}
		})
	}
}
