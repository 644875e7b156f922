package runtime

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	goruntime "runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/composegen/composegen/runtime/composeplan"
	"github.com/composegen/composegen/runtime/internal/label"
	docker "github.com/ory/dockertest/v3/docker"
)

// Tests that each compose field of a hand-built plan takes effect in real
// containers, checked from inside them through Service.Exec.

// projectDir writes files into a fresh directory and returns it, for
// WithDir: the directory the plan's relative paths are resolved against
// (from a test inside package runtime, callerDir cannot find a generated
// file). An option, not COMPOSEGEN_DIR, so that the tests can run in
// parallel.
func projectDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// sh runs a shell command in the service and returns its trimmed stdout,
// failing the test on a non-zero exit.
func sh(t *testing.T, svc *Service, script string) string {
	t.Helper()
	res, err := svc.Exec(context.Background(), "sh", "-c", script)
	if err != nil {
		t.Fatalf("%s: exec %q: %v", svc.Name(), script, err)
	}
	if res.ExitCode != 0 {
		t.Fatalf("%s: %q exited %d: %s%s", svc.Name(), script, res.ExitCode, res.Stdout, res.Stderr)
	}
	return strings.TrimSpace(res.Stdout)
}

// shFails runs a shell command that must exit non-zero.
func shFails(t *testing.T, svc *Service, script string) string {
	t.Helper()
	res, err := svc.Exec(context.Background(), "sh", "-c", script)
	if err != nil {
		t.Fatalf("%s: exec %q: %v", svc.Name(), script, err)
	}
	if res.ExitCode == 0 {
		t.Fatalf("%s: %q succeeded, want a failure: %s", svc.Name(), script, res.Stdout)
	}
	return strings.TrimSpace(res.Stdout + res.Stderr)
}

func sleeper(name string) composeplan.ServiceSpec {
	return composeplan.ServiceSpec{Name: name, Image: "busybox", Command: []string{"sleep", "300"}, Lifecycle: composeplan.LifecycleWorker}
}

func countVolumes(t *testing.T, c *docker.Client, label string) int {
	t.Helper()
	vols, err := c.ListVolumes(docker.ListVolumesOptions{Filters: map[string][]string{"label": {label}}})
	if err != nil {
		t.Fatal(err)
	}
	return len(vols)
}

func TestFidelityVolumesAndMounts(t *testing.T) {
	requireDocker(t)
	t.Parallel()
	c := testClient(t)
	ext := "composegen-test-external-" + strconv.Itoa(os.Getpid())
	if _, err := c.CreateVolume(docker.CreateVolumeOptions{Name: ext, Labels: map[string]string{"io.composegen.test": "external"}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.RemoveVolumeWithOptions(docker.RemoveVolumeOptions{Name: ext}) })
	dir := projectDir(t, map[string]string{
		"data/hello.txt": "hello from the host\n",
		"conf/app.conf":  "setting=1\n",
	})
	plan := &composeplan.Plan{
		Name: "rt-volumes",
		Volumes: []composeplan.VolumeSpec{
			{Name: "data", Labels: map[string]string{"io.composegen.test": "named"}},
			{Name: "shared", External: true, ExternalName: ext},
			{Name: "unused"},
		},
		Services: []composeplan.ServiceSpec{{
			Name: "app", Image: "busybox", Command: []string{"sleep", "300"}, Lifecycle: composeplan.LifecycleWorker,
			Mounts: []composeplan.MountSpec{
				{Type: "volume", Source: "data", Target: "/data"},
				{Type: "volume", Source: "shared", Target: "/shared"},
				{Type: "volume", Target: "/anon"},
				{Type: "bind", Source: "./data", Target: "/bind-rw"},               // short syntax ./data:/bind-rw
				{Type: "bind", Source: "conf", Target: "/etc/app", ReadOnly: true}, // long syntax, read_only
				{Type: "bind", Source: "data/hello.txt", Target: "/hello.txt"},     // a single file
				{Type: "tmpfs", Target: "/scratch"},                                // long-syntax tmpfs
			},
			Tmpfs: []string{"/run/t:size=1m"},
		}},
	}
	ctx := context.Background()
	s := Start(t, plan, WithTimeout(time.Minute), WithDir(dir))
	app := s.Service("app")

	// Named volume: per stack instance, labelled, writable.
	sh(t, app, "echo v > /data/v && cat /data/v")
	projectLabel := label.Project + "=" + s.ProjectName()
	if n := countVolumes(t, c, projectLabel); n != 1 {
		t.Errorf("%d volumes labelled with the project, want 1 (data; the external and unused ones are not created)", n)
	}
	if _, err := c.InspectVolume(s.ProjectName() + "_data"); err != nil {
		t.Errorf("named volume not created per instance: %v", err)
	}
	// External volume: used as is.
	sh(t, app, "echo ext > /shared/x")
	// Bind mounts relative to the plan's Dir.
	if got := sh(t, app, "cat /bind-rw/hello.txt"); got != "hello from the host" {
		t.Errorf("bind mount content = %q", got)
	}
	sh(t, app, "echo from-container > /bind-rw/out.txt")
	if b, err := os.ReadFile(filepath.Join(s.dir, "data", "out.txt")); err != nil || string(b) != "from-container\n" {
		t.Errorf("write through the bind mount: %q, %v", b, err)
	}
	if got := sh(t, app, "cat /etc/app/app.conf"); got != "setting=1" {
		t.Errorf("read-only bind = %q", got)
	}
	if out := shFails(t, app, "echo x > /etc/app/new"); !strings.Contains(out, "Read-only") {
		t.Errorf("write to read_only bind: %q", out)
	}
	if got := sh(t, app, "cat /hello.txt"); got != "hello from the host" {
		t.Errorf("file bind = %q", got)
	}
	// tmpfs, both forms.
	mounts := sh(t, app, "cat /proc/mounts")
	for _, target := range []string{"/scratch", "/run/t"} {
		if !strings.Contains(mounts, "tmpfs "+target+" tmpfs") {
			t.Errorf("%s is not a tmpfs:\n%s", target, mounts)
		}
	}
	if !strings.Contains(mounts, "/run/t tmpfs ") || !strings.Contains(strings.SplitN(mounts[strings.Index(mounts, "/run/t tmpfs "):], "\n", 2)[0], "size=1024k") {
		t.Errorf("tmpfs options lost:\n%s", mounts)
	}

	if err := s.Down(ctx); err != nil {
		t.Fatal(err)
	}
	if n := countVolumes(t, c, projectLabel); n != 0 {
		t.Errorf("%d volumes of the project left after Down", n)
	}
	if _, err := c.InspectVolume(ext); err != nil {
		t.Errorf("external volume removed by Down: %v", err)
	}
}

// Two instances of one plan get distinct named volumes.
func TestFidelityNamedVolumePerInstance(t *testing.T) {
	requireDocker(t)
	t.Parallel()
	plan := &composeplan.Plan{
		Name:    "rt-volinst",
		Volumes: []composeplan.VolumeSpec{{Name: "data"}},
		Services: []composeplan.ServiceSpec{{
			Name: "app", Image: "busybox", Command: []string{"sleep", "300"}, Lifecycle: composeplan.LifecycleWorker,
			Mounts: []composeplan.MountSpec{{Type: "volume", Source: "data", Target: "/data"}},
		}},
	}
	a := Start(t, plan)
	b := Start(t, plan)
	sh(t, a.Service("app"), "echo a > /data/who")
	if out := shFails(t, b.Service("app"), "cat /data/who"); !strings.Contains(out, "No such file") {
		t.Errorf("second instance sees the first one's volume: %q", out)
	}
}

func TestFidelityEnvFilesSecretsConfigs(t *testing.T) {
	requireDocker(t)
	t.Parallel()
	dir := projectDir(t, map[string]string{
		"base.env":     "A=from-base\nB=from-base\nQUOTED=\"q v\"\nREF=${A}-ref\n",
		"override.env": "B=from-override\n",
		"raw.env":      "RAW=\"kept as is\" $HOME\n# comment\n",
		"secret.txt":   "s3cret",
		"app.conf":     "listen 8080\n",
	})
	plan := &composeplan.Plan{
		Name:    "rt-files",
		Secrets: []composeplan.FileSpec{{Name: "db_password", File: "secret.txt"}},
		Configs: []composeplan.FileSpec{
			{Name: "app_conf", File: "app.conf"},
			{Name: "env_conf", Environment: "RT_CONFIG_FROM_ENV"},
			{Name: "inline_conf", Content: "inline ${RT_INLINE:-default}"},
		},
		Services: []composeplan.ServiceSpec{{
			Name: "app", Image: "busybox", Command: []string{"sleep", "300"}, Lifecycle: composeplan.LifecycleWorker,
			EnvFiles: []composeplan.EnvFile{
				{Path: "base.env", Required: true},
				{Path: "missing.env", Required: false},
				{Path: "override.env", Required: true},
				{Path: "raw.env", Required: true, Format: "raw"},
			},
			Environment: []composeplan.EnvVar{{Name: "C", Value: "from-environment"}, {Name: "B", Value: "${B:-x}-env"}},
			Secrets: []composeplan.FileRef{
				{Source: "db_password"},
				{Source: "db_password", Target: "other_name"},
			},
			Configs: []composeplan.FileRef{
				{Source: "app_conf", Target: "/etc/app/app.conf"},
				{Source: "env_conf"},
				{Source: "inline_conf", Target: "/inline"},
			},
		}},
	}
	s := Start(t, plan, WithDir(dir), WithEnv("RT_CONFIG_FROM_ENV", "config-from-env"))
	app := s.Service("app")
	env := sh(t, app, "env")
	// environment wins over env_file; later env files win over earlier
	// ones; compose interpolates environment with the process
	// environment, not with the env files (B is not set in the process).
	for _, want := range []string{"A=from-base", "B=x-env", "C=from-environment", "QUOTED=q v", "REF=from-base-ref", `RAW="kept as is" $HOME`} {
		if !strings.Contains(env+"\n", want+"\n") {
			t.Errorf("env lacks %q:\n%s", want, env)
		}
	}
	if got := sh(t, app, "cat /run/secrets/db_password"); got != "s3cret" {
		t.Errorf("secret = %q", got)
	}
	if got := sh(t, app, "cat /run/secrets/other_name"); got != "s3cret" {
		t.Errorf("secret with target = %q", got)
	}
	if got := sh(t, app, "cat /etc/app/app.conf"); got != "listen 8080" {
		t.Errorf("config file = %q", got)
	}
	if got := sh(t, app, "cat /env_conf"); got != "config-from-env" {
		t.Errorf("config from environment = %q", got)
	}
	if got := sh(t, app, "cat /inline"); got != "inline default" {
		t.Errorf("config content = %q", got)
	}
	shFails(t, app, "echo x > /run/secrets/db_password")
}

func removeImageAtCleanup(t *testing.T, c *docker.Client, names ...string) {
	t.Cleanup(func() {
		for _, n := range names {
			_ = c.RemoveImageExtended(n, docker.RemoveImageOptions{Force: true})
		}
	})
}

const testDockerfile = `FROM busybox AS base
ARG GREETING=default
RUN echo "$GREETING" > /greeting
CMD ["sleep", "300"]

FROM base AS dev
RUN echo dev > /stage

FROM base AS prod
RUN echo prod > /stage
`

func TestFidelityBuild(t *testing.T) {
	requireDocker(t)
	t.Parallel()
	c := testClient(t)
	tag := "composegen-test/build:" + strconv.Itoa(os.Getpid())
	removeImageAtCleanup(t, c, tag, "rt-build-noimage")
	if te, err := getEngine(context.Background()); err == nil {
		for _, image := range []string{tag, "rt-build-noimage", "composegen-test/broken:never-built"} {
			removeBuildFiles(t, te.eng, image)
		}
	}
	dir := projectDir(t, map[string]string{
		"app/docker/App.dockerfile": testDockerfile,
		"app/payload.txt":           "payload\n",
		"broken/Dockerfile":         "FROM busybox\nRUN echo building-marker-42 && exit 3\n",
	})
	plan := func(greeting, policy string) *composeplan.Plan {
		return &composeplan.Plan{Name: "rt-build", Services: []composeplan.ServiceSpec{{
			Name: "app", Image: tag, PullPolicy: policy, Lifecycle: composeplan.LifecycleWorker,
			Build: &composeplan.BuildSpec{Context: "app", Dockerfile: "docker/App.dockerfile", Target: "dev",
				Args: map[string]string{"GREETING": greeting}},
		}}}
	}
	check := func(s *Stack, greeting string) {
		t.Helper()
		app := s.Service("app")
		if got := sh(t, app, "cat /greeting /stage"); got != greeting+"\ndev" {
			t.Errorf("built image: /greeting /stage = %q, want %q and the dev target", got, greeting)
		}
	}
	ctx := context.Background()
	s, err := Up(ctx, plan("${RT_GREETING}", ""), WithDir(dir), WithEnv("RT_GREETING", "one"))
	if err != nil {
		t.Fatal(err)
	}
	check(s, "one")
	_ = s.Down(ctx)
	first := ""
	if img, err := c.InspectImage(tag); err != nil {
		t.Errorf("image: with build is not the built image's tag: %v", err)
	} else {
		first = img.ID
		removeImageAtCleanup(t, c, img.ID) // superseded by the rebuild below
	}
	// missing: the image of the same build hash exists, so no rebuild.
	s, err = Up(ctx, plan("one", "missing"), WithDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	check(s, "one")
	_ = s.Down(ctx)
	if img, err := c.InspectImage(tag); err != nil || img.ID != first {
		t.Errorf("an unchanged build was rebuilt: image %v (%v), was %s", img, err, first)
	}
	// Another build arg is another build hash: rebuilt.
	s, err = Up(ctx, plan("two", "missing"), WithDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	check(s, "two")
	_ = s.Down(ctx)
	if img, err := c.InspectImage(tag); err == nil {
		removeImageAtCleanup(t, c, img.ID)
	}
	// build: always built.
	s, err = Up(ctx, plan("two", "build"), WithDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	check(s, "two")
	_ = s.Down(ctx)

	// No image: named after the project and service.
	s, err = Up(ctx, &composeplan.Plan{Name: "rt-build", Services: []composeplan.ServiceSpec{{
		Name: "noimage", Build: &composeplan.BuildSpec{Context: "app", Dockerfile: "docker/App.dockerfile", Target: "prod"},
		Lifecycle: composeplan.LifecycleWorker,
	}}}, WithDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	if got := sh(t, s.Service("noimage"), "cat /greeting /stage"); got != "default\nprod" {
		t.Errorf("prod target: %q", got)
	}
	_ = s.Down(ctx)
	if _, err := c.InspectImage("rt-build-noimage"); err != nil {
		t.Errorf("image without image: not named project-service: %v", err)
	}

	// A failing build shows the build's output.
	_, err = Up(ctx, &composeplan.Plan{Name: "rt-build", Services: []composeplan.ServiceSpec{{
		Name: "broken", Image: "composegen-test/broken:never-built", Build: &composeplan.BuildSpec{Context: "broken"},
	}}}, WithDir(dir))
	if err == nil {
		t.Fatal("a failing build started")
	}
	for _, want := range []string{`service "broken"`, "build image composegen-test/broken:never-built", "building-marker-42", "exit 3"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("build error lacks %q:\n%v", want, err)
		}
	}
	// The failed step's container is removed too.
	left, err := c.ListContainers(docker.ListContainersOptions{All: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, ct := range left {
		if strings.Contains(ct.Command, "building-marker-42") {
			t.Errorf("failed build left container %s (%s)", ct.ID[:12], ct.Command)
			_ = c.RemoveContainer(docker.RemoveContainerOptions{ID: ct.ID, Force: true})
		}
	}
}

func TestFidelityPullPolicy(t *testing.T) {
	requireDocker(t)
	t.Parallel()
	ctx := context.Background()
	one := func(image, policy string) *composeplan.Plan {
		return &composeplan.Plan{Name: "rt-pull", Services: []composeplan.ServiceSpec{{Name: "app", Image: image, PullPolicy: policy, Command: []string{"sleep", "300"}, Lifecycle: composeplan.LifecycleWorker}}}
	}
	// never: a present image is used, a missing one is an error that says
	// why.
	s, err := Up(ctx, one("busybox", "never"))
	if err != nil {
		t.Fatalf("pull_policy never with a present image: %v", err)
	}
	_ = s.Down(ctx)
	_, err = Up(ctx, one("composegen-test/absent:1", "never"))
	if err == nil || !strings.Contains(err.Error(), `service "app"`) || !strings.Contains(err.Error(), "composegen-test/absent:1 is not present") || !strings.Contains(err.Error(), "pull_policy is never") {
		t.Errorf("pull_policy never, missing image: %v", err)
	}
	// always: pulls even a present image; this machine has no registry,
	// so the pull fails with a clear error.
	_, err = Up(ctx, one("busybox", "always"))
	if err == nil {
		t.Fatal("pull_policy always succeeded without a registry")
	}
	for _, want := range []string{`service "app"`, "pull image busybox", "pull_policy"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("pull_policy always error lacks %q: %v", want, err)
		}
	}
	// missing (the default): present images are not pulled, absent ones are.
	s, err = Up(ctx, one("busybox", "missing"))
	if err != nil {
		t.Fatalf("pull_policy missing with a present image: %v", err)
	}
	_ = s.Down(ctx)
	_, err = Up(ctx, one("composegen-test/absent:1", ""))
	if err == nil || !strings.Contains(err.Error(), "pull image composegen-test/absent:1") {
		t.Errorf("missing image: %v", err)
	}
}

// capBit reports whether capability number bit is in the hex mask of a
// /proc/PID/status Cap line.
func capBit(t *testing.T, status, line string, bit uint) bool {
	t.Helper()
	for _, l := range strings.Split(status, "\n") {
		if v, ok := strings.CutPrefix(l, line+":"); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n&(1<<bit) != 0
		}
	}
	t.Fatalf("no %s in %q", line, status)
	return false
}

func TestFidelityContainerOptions(t *testing.T) {
	requireDocker(t)
	t.Parallel()
	yes := true
	grace := 1500 * time.Millisecond
	plan := &composeplan.Plan{Name: "rt-opts", Services: []composeplan.ServiceSpec{
		{
			Name: "opts", Image: "busybox", Lifecycle: composeplan.LifecycleWorker,
			// Entrypoint and command in list form (compose-go has already
			// split the string form with shell rules).
			Entrypoint: []string{"sh", "-c", `echo "args:$0:$1"; exec sleep 300`},
			Command:    []string{"first", "second word"},
			WorkingDir: "/srv/work", User: "1234:2345", Hostname: "custom-host",
			ExtraHosts: []string{"db.example:10.1.2.3", "alias.example:10.1.2.4"},
			Init:       &yes, ShmSize: 32 << 20,
			Ulimits: []composeplan.Ulimit{{Name: "nofile", Soft: 1111, Hard: 2222}, {Name: "nproc", Soft: 555, Hard: 555}},
			CapAdd:  []string{"NET_ADMIN"}, CapDrop: []string{"CHOWN"},
			Sysctls:  map[string]string{"net.ipv4.ip_unprivileged_port_start": "80"},
			Labels:   map[string]string{"com.example.team": "${RT_TEAM:-core}"},
			Platform: "linux/" + goruntime.GOARCH,
		},
		{
			// stop_signal: the shell traps SIGUSR1, not SIGTERM.
			Name: "signals", Image: "busybox", StopSignal: "SIGUSR1", StopGracePeriod: &grace, Lifecycle: composeplan.LifecycleWorker,
			Command: []string{"sh", "-c", `trap 'echo got-usr1; exit 0' USR1; echo trapping; sleep 300 & wait`},
		},
		{
			// stop_grace_period: SIGTERM is ignored, so stop kills after
			// the grace period (1.5s, rounded up to 2s), not after 10s.
			Name: "stubborn", Image: "busybox", StopGracePeriod: &grace, Lifecycle: composeplan.LifecycleWorker,
			Command: []string{"sh", "-c", `trap '' TERM; while true; do sleep 0.1; done`},
		},
		{Name: "tty", Image: "busybox", Tty: true, Command: []string{"sh", "-c", `[ -t 1 ] && echo has-a-tty; exec sleep 300`}},
		// stdin_open: cat blocks on the open stdin instead of exiting at EOF.
		{Name: "stdin", Image: "busybox", StdinOpen: true, Command: []string{"cat"}},
		{Name: "readonly", Image: "busybox", ReadOnly: true, Command: []string{"sleep", "300"}, Lifecycle: composeplan.LifecycleWorker},
		// entrypoint: [] clears the image's entrypoint.
		{Name: "noentry", Image: "postgres:16", Entrypoint: []string{}, Command: []string{"sleep", "300"}, Lifecycle: composeplan.LifecycleWorker},
	}}
	ctx := context.Background()
	s := Start(t, plan)
	opts := s.Service("opts")
	if got := sh(t, opts, "cat /proc/1/cmdline | tr '\\0' ' '"); !strings.Contains(got, "init") {
		t.Errorf("init: pid 1 is %q, want docker's init", got)
	}
	logs, _ := opts.Logs(ctx)
	if !strings.Contains(logs, "args:first:second word") {
		t.Errorf("entrypoint/command: logs %q", logs)
	}
	if got := sh(t, opts, "pwd"); got != "/srv/work" {
		t.Errorf("working_dir: %q", got)
	}
	if got := sh(t, opts, "id -u; id -g"); got != "1234\n2345" {
		t.Errorf("user: %q", got)
	}
	if got := sh(t, opts, "hostname"); got != "custom-host" {
		t.Errorf("hostname: %q", got)
	}
	hosts := sh(t, opts, "cat /etc/hosts")
	for _, want := range []string{"10.1.2.3\tdb.example", "10.1.2.4\talias.example"} {
		if !strings.Contains(hosts, want) {
			t.Errorf("extra_hosts: /etc/hosts lacks %q:\n%s", want, hosts)
		}
	}
	if got := sh(t, opts, "df -k /dev/shm | tail -1 | awk '{print $2}'"); got != "32768" {
		t.Errorf("shm_size: /dev/shm is %s KiB", got)
	}
	// The container's own process, not an exec: runc's exec may hand its
	// process a soft limit raised to the hard one.
	limits := sh(t, opts, "cat /proc/1/limits")
	for _, want := range []string{`Max open files\s+1111\s+2222\s`, `Max processes\s+555\s+555\s`} {
		if !regexp.MustCompile(want).MatchString(limits) {
			t.Errorf("ulimits: /proc/1/limits lacks %s:\n%s", want, limits)
		}
	}
	status := sh(t, opts, "cat /proc/self/status")
	const capChown, capNetAdmin = 0, 12
	if capBit(t, status, "CapBnd", capChown) || !capBit(t, status, "CapBnd", capNetAdmin) {
		t.Errorf("cap_add NET_ADMIN / cap_drop CHOWN not applied:\n%s", status)
	}
	if got := sh(t, opts, "cat /proc/sys/net/ipv4/ip_unprivileged_port_start"); got != "80" {
		t.Errorf("sysctls: %q", got)
	}
	info, err := testClient(t).InspectContainer(opts.ContainerID())
	if err != nil {
		t.Fatal(err)
	}
	if info.Config.Labels["com.example.team"] != "core" || info.Config.Labels[label.Service] != "opts" {
		t.Errorf("labels: %v", info.Config.Labels)
	}
	if got := sh(t, opts, "cat /proc/self/status"); capBit(t, got, "CapEff", 21) {
		t.Error("CAP_SYS_ADMIN without privileged")
	}
	if logs, _ := s.Service("tty").Logs(ctx); !strings.Contains(logs, "has-a-tty") {
		t.Errorf("tty: logs %q", logs)
	}
	if info, err := testClient(t).InspectContainer(s.Service("stdin").ContainerID()); err != nil || !info.State.Running || !info.Config.OpenStdin {
		t.Errorf("stdin_open: cat is not waiting on stdin (%v): %+v", err, info.State)
	}
	if out := shFails(t, s.Service("readonly"), "touch /x"); !strings.Contains(out, "Read-only") {
		t.Errorf("read_only: %q", out)
	}

	// The image's docker-entrypoint.sh is cleared: the command is pid 1
	// (Docker records the entrypoint as none, Podman as [""]).
	if info, err := testClient(t).InspectContainer(s.Service("noentry").ContainerID()); err != nil || info.Path != "sleep" ||
		(len(info.Config.Entrypoint) != 0 && (len(info.Config.Entrypoint) != 1 || info.Config.Entrypoint[0] != "")) {
		t.Errorf("entrypoint: []: container entrypoint %q, path %q, %v", info.Config.Entrypoint, info.Path, err)
	}

	// stop_signal.
	sig := s.Service("signals")
	t0 := time.Now()
	if err := sig.Stop(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if logs, _ := sig.Logs(ctx); !strings.Contains(logs, "got-usr1") {
		t.Errorf("stop_signal SIGUSR1 not delivered: logs %q", logs)
	}
	// Handled, the shell exits 0 at once; not handled, the engine kills
	// it after the grace period (exit 137). The exit code tells, whatever
	// the machine's load (a bound on the time failed at load 15: 1.7 s).
	d := time.Since(t0)
	t.Logf("stop with a handled stop signal took %s", d)
	if info, err := testClient(t).InspectContainer(sig.ContainerID()); err != nil {
		t.Error(err)
	} else if info.State.ExitCode != 0 {
		t.Errorf("stop_signal SIGUSR1: the service did not exit on its own (exit %d after %s: killed after the grace period?)", info.State.ExitCode, d)
	}
	// stop_grace_period.
	t0 = time.Now()
	if err := s.Service("stubborn").Stop(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(t0); d < 1500*time.Millisecond || d > 5*time.Second {
		t.Errorf("stop_grace_period 1.5s: stop took %s", d)
	}
	info, err = testClient(t).InspectContainer(s.Service("stubborn").ContainerID())
	if err != nil || info.Config.StopTimeout != 2 || info.State.ExitCode != 137 {
		t.Errorf("stop_grace_period: StopTimeout %d, exit %d, %v", info.Config.StopTimeout, info.State.ExitCode, err)
	}
}

func TestFidelityPrivileged(t *testing.T) {
	requireDocker(t)
	t.Parallel()
	s, err := Up(context.Background(), &composeplan.Plan{Name: "rt-priv", Services: []composeplan.ServiceSpec{
		{Name: "priv", Image: "busybox", Command: []string{"sleep", "300"}, Lifecycle: composeplan.LifecycleWorker, Privileged: true},
	}})
	if err != nil && strings.Contains(err.Error(), "unable to apply caps: operation not permitted") {
		// An engine that itself runs without every capability (Docker in
		// an unprivileged container, rootless) cannot grant them.
		t.Skipf("this engine cannot run privileged containers: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer s.Down(context.Background())
	if got := sh(t, s.Service("priv"), "cat /proc/self/status"); !capBit(t, got, "CapEff", 21 /* SYS_ADMIN */) {
		t.Errorf("privileged: no CAP_SYS_ADMIN:\n%s", got)
	}
}

func TestFidelityPlatformMismatch(t *testing.T) {
	requireDocker(t)
	t.Parallel()
	other := "linux/s390x"
	if goruntime.GOARCH == "s390x" {
		other = "linux/amd64"
	}
	_, err := Up(context.Background(), &composeplan.Plan{Name: "rt-platform", Services: []composeplan.ServiceSpec{{
		Name: "app", Image: "busybox", Platform: other, Command: []string{"true"},
	}}})
	if err == nil || !strings.Contains(err.Error(), `service "app": platform: image busybox is linux/`) {
		t.Errorf("platform mismatch: %v", err)
	}
}

func networkPlan(internal bool) *composeplan.Plan {
	onNets := func(spec composeplan.ServiceSpec, nets ...composeplan.ServiceNetwork) composeplan.ServiceSpec {
		spec.Networks = nets
		return spec
	}
	e := sleeper("e")
	e.Links = []string{"b:linkalias", "c"}
	f := sleeper("f")
	f.ContainerName = "fixed-name"
	d := sleeper("d")
	d.NetworkMode = "service:a"
	h := sleeper("h")
	h.NetworkMode = "host"
	n := sleeper("n")
	n.NetworkMode = "none"
	plan := &composeplan.Plan{
		Name:     "rt-net",
		Networks: []composeplan.NetworkSpec{{Name: "net1"}, {Name: "net2", Internal: internal}},
		Services: []composeplan.ServiceSpec{
			onNets(sleeper("a"), composeplan.ServiceNetwork{Network: "net1"}, composeplan.ServiceNetwork{Network: "net2", Aliases: []string{"a-on-2"}}),
			onNets(sleeper("b"), composeplan.ServiceNetwork{Network: "net1", Aliases: []string{"bee", "bee2"}}),
			onNets(sleeper("c"), composeplan.ServiceNetwork{Network: "net2", Aliases: []string{"sea"}}),
			d,
			onNets(e, composeplan.ServiceNetwork{Network: "net1"}, composeplan.ServiceNetwork{Network: "net2"}),
			onNets(f, composeplan.ServiceNetwork{Network: "net1"}),
			h, n,
		},
	}
	// The reachability checks ping, which needs NET_RAW: Docker grants it
	// by default, Podman 4.3 does not ("ping: permission denied").
	for i := range plan.Services {
		plan.Services[i].CapAdd = []string{"NET_RAW"}
	}
	return plan
}

func TestFidelityNetworks(t *testing.T) {
	requireDocker(t)
	// Not parallel: on Podman 4.3 the ping from one instance's network to
	// the other's was answered once while the parallel tests created and
	// removed their networks (netavark rewrites its forwarding rules), and
	// never when the test ran alone (3/3, and every serial run before).
	// Podman 4.3 (netavark) drops traffic between the containers of an
	// internal network (two plain containers on it cannot ping each
	// other), so net2 is a normal network there.
	plan := networkPlan(!onPodman(t))
	// Two instances at once: container_name must not collide.
	var stacks [2]*Stack
	errs := make(chan error, 2)
	for i := range stacks {
		go func() {
			var err error
			stacks[i], err = Up(context.Background(), plan)
			errs <- err
		}()
	}
	for range stacks {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	for _, s := range stacks {
		if s != nil {
			// network_mode service:a: Podman removes a only after d.
			t.Cleanup(func() {
				if err := s.Down(context.Background()); err != nil {
					t.Errorf("Down: %v", err)
				}
			})
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	s := stacks[0]
	reach := func(from, host string) {
		t.Helper()
		sh(t, s.Service(from), "ping -c1 -W3 "+host+" >/dev/null")
	}
	unreachable := func(from, host string) {
		t.Helper()
		shFails(t, s.Service(from), "ping -c1 -W1 "+host)
	}
	// a is on both networks and reaches b and c by name and alias.
	for _, h := range []string{"b", "bee", "bee2", "c", "sea", "fixed-name", "f"} {
		reach("a", h)
	}
	reach("c", "a-on-2")
	unreachable("b", "c") // different networks
	unreachable("b", "sea")
	// links: an alias of the linked service for the linking container.
	// Podman 4.3 has no links: the EndpointConfig's Links are dropped and
	// aardvark-dns resolves names and aliases only.
	if !onPodman(t) {
		reach("e", "linkalias")
	}
	reach("e", "c")
	// network_mode service:a shares a's network namespace.
	ips := func(svc string) string { return sh(t, s.Service(svc), "ip -o -4 addr show | awk '{print $4}' | sort") }
	if a, d := ips("a"), ips("d"); a != d {
		t.Errorf("network_mode service:a: d has %q, a has %q", d, a)
	}
	// none: loopback only.
	if got := sh(t, s.Service("n"), "ls /sys/class/net"); got != "lo" {
		t.Errorf("network_mode none: interfaces %q", got)
	}
	// host: the engine host's network namespace (compared when the engine
	// is local). Its interfaces are no proof: the host's veths come and go
	// with every other test's containers.
	if s.info.Local {
		hostNS, err := os.Readlink("/proc/self/ns/net")
		if err == nil {
			if got := sh(t, s.Service("h"), "readlink /proc/self/ns/net"); got != hostNS {
				t.Errorf("network_mode host: network namespace %q, the host's is %q", got, hostNS)
			}
			if got := sh(t, s.Service("a"), "readlink /proc/self/ns/net"); got == hostNS {
				t.Errorf("a service on a network shares the host's network namespace %q", got)
			}
		}
	}
	// The fixed container_name is an alias, not the engine's name.
	if f := s.Service("f"); f.ContainerName() == "fixed-name" || f.ContainerName() == stacks[1].Service("f").ContainerName() {
		t.Errorf("container names: %q and %q", f.ContainerName(), stacks[1].Service("f").ContainerName())
	}
	// Networks are per instance: nothing of stack 1 is reachable from stack 0.
	// Checked by address, but not on Podman 4.3, whose bridge networks
	// are not isolated from each other (netavark's isolate option is off
	// by default): a ping to the other instance's address was answered in
	// 2 of the CI runs of 2026-12-07, whether the test ran alone or not.
	if ipsOther := sh(t, stacks[1].Service("b"), "ip -o -4 addr show eth0 | awk '{print $4}' | cut -d/ -f1"); ipsOther != "" && !onPodman(t) {
		unreachable("a", ipsOther)
	}
}

func TestFidelityDependsOnAndProfiles(t *testing.T) {
	requireDocker(t)
	t.Parallel()
	app := sleeper("app")
	app.DependsOn = []composeplan.Dependency{
		{Service: "ghost", Condition: "service_started", Required: false},    // not in the plan
		{Service: "debugger", Condition: "service_healthy", Required: false}, // profile debug
		{Service: "db", Condition: "service_started", Required: true, Restart: true},
	}
	dbg := sleeper("debugger")
	dbg.Profiles = []string{"debug"}
	extra := sleeper("extra")
	extra.Profiles = []string{"extra"}
	plan := &composeplan.Plan{Name: "rt-deps", Profiles: []string{"extra"}, Services: []composeplan.ServiceSpec{app, sleeper("db"), dbg, extra}}
	started := func(s *Stack) string {
		var names []string
		for _, n := range []string{"app", "db", "debugger", "extra"} {
			if s.Service(n) != nil {
				names = append(names, n)
			}
		}
		return strings.Join(names, " ")
	}
	// Plan.Profiles is the default.
	if got := started(Start(t, plan)); got != "app db extra" {
		t.Errorf("default profiles: started %q", got)
	}
	if got := started(Start(t, plan, WithProfiles("debug"))); got != "app db debugger" {
		t.Errorf("WithProfiles(debug): started %q", got)
	}
	if got := started(Start(t, plan, WithProfiles())); got != "app db" {
		t.Errorf("WithProfiles(): started %q", got)
	}
}

// dialRead connects to addr (retrying while the server comes up) and
// returns the first line it sends.
func dialRead(t *testing.T, network, addr, send string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var lastErr error
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout(network, addr, time.Second)
		if err == nil {
			_ = c.SetDeadline(time.Now().Add(time.Second))
			if send != "" {
				_, _ = c.Write([]byte(send))
			}
			buf := make([]byte, 100)
			n, err := c.Read(buf)
			c.Close()
			if n > 0 {
				return strings.TrimSpace(string(buf[:n]))
			}
			lastErr = err
		} else {
			lastErr = err
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s %s: %v", network, addr, lastErr)
	return ""
}

func portsPlan(published func(target int) string) *composeplan.Plan {
	script := "socat UDP4-RECVFROM:9999,fork SYSTEM:'echo pong-udp' &"
	for _, p := range []int{8080, 8000, 8001, 8002, 8003, 7000} {
		script += fmt.Sprintf(" socat TCP-LISTEN:%d,fork,reuseaddr SYSTEM:'echo hi-%d' &", p, p)
	}
	svc := composeplan.ServiceSpec{
		Name: "ports", Image: "debian:bookworm-slim", Command: []string{"sh", "-c", script + " wait"},
		Ports: []composeplan.PortSpec{
			{Name: "web", Target: 8080, Protocol: "tcp", Published: published(8080), HostIP: "127.0.0.1", AppProtocol: "https"},
			{Target: 9999, Protocol: "udp", Published: published(9999)},
			{Target: 7000, Protocol: "tcp", Expose: true},
		},
	}
	for p := 8000; p <= 8003; p++ { // "8000-8003:8000-8003", expanded by compose-go
		svc.Ports = append(svc.Ports, composeplan.PortSpec{Target: p, Protocol: "tcp", Published: published(p)})
	}
	return &composeplan.Plan{Name: "rt-ports", Services: []composeplan.ServiceSpec{svc}}
}

func TestFidelityPorts(t *testing.T) {
	requireDocker(t)
	t.Parallel()
	check := func(s *Stack, fixed map[int]int) {
		t.Helper()
		svc := s.Service("ports")
		for _, p := range []int{8080, 8000, 8001, 8002, 8003, 7000} {
			port := svc.Port(p, "tcp")
			if want, ok := fixed[p]; ok && port.HostPort != want {
				t.Errorf("port %d published on %d, want the fixed %d", p, port.HostPort, want)
			}
			if got := dialRead(t, "tcp", port.Addr(), ""); got != fmt.Sprintf("hi-%d", p) {
				t.Errorf("port %d: read %q", p, got)
			}
		}
		udp := svc.Port(9999, "udp")
		if want, ok := fixed[9999]; ok && udp.HostPort != want {
			t.Errorf("udp published on %d, want %d", udp.HostPort, want)
		}
		if got := dialRead(t, "udp", udp.Addr(), "ping\n"); got != "pong-udp" {
			t.Errorf("udp: read %q", got)
		}
		if u := svc.Port(8080, "tcp").URL(); !strings.HasPrefix(u, "https://127.0.0.1:") {
			t.Errorf("app_protocol https: URL %s", u)
		}
	}
	// Default: ephemeral ports, whatever the compose file publishes.
	s := Start(t, portsPlan(func(p int) string { return strconv.Itoa(p) }))
	check(s, nil)
	for _, p := range []int{8080, 8000, 8001, 8002, 8003} {
		if hp := s.Service("ports").Port(p, "tcp").HostPort; hp == p {
			t.Errorf("port %d bound on its fixed host port without WithFixedPorts", p)
		}
	}
	// WithFixedPorts binds the compose file's host ports (unusual ones
	// here, below the ephemeral range from which the engine gave the
	// first stack its ports).
	base := freeBlock(t, 14)
	fixed := map[int]int{8080: base, 9999: base + 1, 8000: base + 10, 8001: base + 11, 8002: base + 12, 8003: base + 13}
	s2 := Start(t, portsPlan(func(p int) string { return strconv.Itoa(fixed[p]) }), WithFixedPorts())
	check(s2, fixed)
}

// freeBlock returns the first port of n consecutive ports that are free now,
// below the kernel's ephemeral range (where engines allocate ephemeral host
// ports, so that no other stack is given one of them meanwhile).
func freeBlock(t *testing.T, n int) int {
	t.Helper()
	for base := 24700; base+n < ephemeralLow(); base += 100 {
		free := true
		for p := base; p < base+n && free; p++ {
			l, err := net.Listen("tcp", ":"+strconv.Itoa(p))
			if err != nil {
				free = false
				continue
			}
			l.Close()
		}
		if free {
			return base
		}
	}
	t.Fatal("no block of free ports below the ephemeral range")
	return 0
}

func TestFidelityDriverOpts(t *testing.T) {
	requireDocker(t)
	t.Parallel()
	skipOnPodman(t, "its local volume driver reads size= in driver_opts o as a disk quota (XFS project quota), not as a tmpfs mount option, and refuses to create the volume")
	s := Start(t, &composeplan.Plan{
		Name:     "rt-driveropts",
		Volumes:  []composeplan.VolumeSpec{{Name: "mem", Driver: "local", DriverOpts: map[string]string{"type": "tmpfs", "device": "tmpfs", "o": "size=${RT_TMPFS_SIZE}"}}},
		Networks: []composeplan.NetworkSpec{{Name: "mtu", DriverOpts: map[string]string{"com.docker.network.driver.mtu": "1400"}}},
		Services: []composeplan.ServiceSpec{{
			Name: "app", Image: "busybox", Command: []string{"sleep", "300"}, Lifecycle: composeplan.LifecycleWorker,
			Mounts:   []composeplan.MountSpec{{Type: "volume", Source: "mem", Target: "/mem"}},
			Networks: []composeplan.ServiceNetwork{{Network: "mtu"}},
		}},
	}, WithEnv("RT_TMPFS_SIZE", "2m"))
	app := s.Service("app")
	if got := sh(t, app, "grep ' /mem ' /proc/mounts"); !strings.Contains(got, "tmpfs /mem tmpfs") || !strings.Contains(got, "size=2048k") {
		t.Errorf("volume driver_opts: %q", got)
	}
	if got := sh(t, app, "cat /sys/class/net/eth0/mtu"); got != "1400" {
		t.Errorf("network driver_opts: mtu %q", got)
	}
}

// cgroupValue reads a cgroup v1 control file of the container, "" on
// cgroup v2 or when the controller is not mounted.
func cgroupValue(t *testing.T, svc *Service, file string) string {
	t.Helper()
	return sh(t, svc, "cat /sys/fs/cgroup/"+file+" 2>/dev/null || true")
}

func TestFidelityHostOptions(t *testing.T) {
	requireDocker(t)
	t.Parallel()
	c := testClient(t)
	app := sleeper("app")
	app.User = "nobody"
	app.DNS = []string{"10.9.8.7", "${RT_DNS2:-10.9.8.6}"}
	app.DNSSearch = []string{"example.com", "corp.example"}
	app.DNSOpt = []string{"ndots:3", "timeout:2"}
	app.SecurityOpt = []string{"no-new-privileges:true"}
	app.GroupAdd = []string{"4321", "daemon"}
	app.MemLimit, app.MemReservation, app.MemSwapLimit = 64<<20, 32<<20, 128<<20
	app.CPUs, app.CPUShares, app.PidsLimit = 0.5, 512, 77
	app.OomKillDisable, app.OomScoreAdj = true, 123
	app.Devices = []composeplan.Device{{Source: "/dev/null", Target: "/dev/mynull", Permissions: "rw"}, {Source: "/dev/zero"}}
	app.UsernsMode = "host"
	app.CgroupParent = "composegen-test"
	nonet := sleeper("nonet")
	nonet.NetworkMode = "none"
	nonet.DNS = app.DNS
	s := Start(t, &composeplan.Plan{Name: "rt-hostopts", Services: []composeplan.ServiceSpec{app, nonet, sleeper("plain")}})
	svc := s.Service("app")

	// dns, dns_search, dns_opt. On the stack's network the engine's
	// embedded DNS server is the nameserver and forwards to the dns
	// servers; without a network they are written as they are.
	resolv := sh(t, svc, "cat /etc/resolv.conf")
	for _, want := range []string{"search example.com corp.example\n", "options ndots:3 timeout:2\n"} {
		if !strings.Contains(resolv+"\n", want) {
			t.Errorf("resolv.conf lacks %q:\n%s", want, resolv)
		}
	}
	// Podman 4.3 writes no /etc/resolv.conf at all for network_mode none
	// (Docker writes the dns servers there): nothing to compare.
	if !onPodman(t) {
		if got := sh(t, s.Service("nonet"), "grep nameserver /etc/resolv.conf"); got != "nameserver 10.9.8.7\nnameserver 10.9.8.6" {
			t.Errorf("dns (network_mode none): %q", got)
		}
	}
	// security_opt no-new-privileges.
	if got := sh(t, svc, "grep NoNewPrivs /proc/self/status"); !strings.HasSuffix(got, "1") {
		t.Errorf("security_opt no-new-privileges: %q", got)
	}
	if got := sh(t, s.Service("plain"), "grep NoNewPrivs /proc/self/status"); !strings.HasSuffix(got, "0") {
		t.Errorf("no-new-privileges without security_opt: %q", got)
	}
	// group_add: numeric and named groups of the user.
	if got := strings.Fields(sh(t, svc, "id -G")); !slicesContain(got, "4321") || !slicesContain(got, "1") {
		t.Errorf("group_add 4321, daemon: id -G = %v", got)
	}
	// oom_score_adj.
	if got := sh(t, svc, "cat /proc/1/oom_score_adj"); got != "123" {
		t.Errorf("oom_score_adj: %q", got)
	}
	// devices: a character device at the target, usable; a device without
	// a target at its own path.
	if got := sh(t, svc, "ls -l /dev/mynull | cut -c1; echo x > /dev/mynull && echo wrote; head -c4 /dev/zero | wc -c"); got != "c\nwrote\n4" {
		t.Errorf("devices: %q", got)
	}
	// Resource limits, in the container's cgroups where cgroup v1 shows
	// them, and as the engine recorded them.
	for file, want := range map[string]string{
		"memory/memory.limit_in_bytes":       strconv.Itoa(64 << 20),
		"memory/memory.soft_limit_in_bytes":  strconv.Itoa(32 << 20),
		"memory/memory.memsw.limit_in_bytes": strconv.Itoa(128 << 20),
		"cpu/cpu.cfs_quota_us":               "50000",
		"cpu/cpu.cfs_period_us":              "100000",
		"cpu/cpu.shares":                     "512",
		"pids/pids.max":                      "77",
	} {
		if got := cgroupValue(t, svc, file); got != "" && got != want {
			t.Errorf("cgroup %s = %s, want %s", file, got, want)
		}
	}
	if got := cgroupValue(t, svc, "memory/memory.oom_control"); got != "" && !strings.Contains(got, "oom_kill_disable 1") {
		t.Errorf("oom_kill_disable: memory.oom_control %q", got)
	}
	// cgroup_parent: the container's cgroups are below it.
	if got := sh(t, svc, "cat /proc/self/cgroup"); !strings.Contains(got, "/composegen-test/") {
		t.Errorf("cgroup_parent: /proc/self/cgroup:\n%s", got)
	}
	info, err := c.InspectContainer(svc.ContainerID())
	if err != nil {
		t.Fatal(err)
	}
	hc := info.HostConfig
	if strings.Join(hc.DNS, " ") != "10.9.8.7 10.9.8.6" {
		t.Errorf("dns: host config %q", hc.DNS)
	}
	if hc.Memory != 64<<20 || hc.MemoryReservation != 32<<20 || hc.MemorySwap != 128<<20 || hc.CPUQuota != 50000 || hc.CPUPeriod != 100000 ||
		hc.CPUShares != 512 || hc.PidsLimit != 77 || !hc.OOMKillDisable || hc.OomScoreAdj != 123 || hc.CgroupParent != "composegen-test" {
		t.Errorf("host config: %+v", hc)
	}
	// userns_mode host: Podman 4.3's inspect reports "" for it, so the
	// container's own uid map is checked there (the host's: identity).
	if onPodman(t) {
		if got := strings.Join(strings.Fields(sh(t, svc, "cat /proc/self/uid_map")), " "); got != "0 0 4294967295" {
			t.Errorf("userns_mode host: uid_map %q", got)
		}
	} else if hc.UsernsMode != "host" {
		t.Errorf("userns_mode: host config %q", hc.UsernsMode)
	}
}

func slicesContain(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func TestFidelityNamespacesAndVolumesFrom(t *testing.T) {
	requireDocker(t)
	t.Parallel()
	c := testClient(t)
	// A container outside the stack, for volumes_from container:NAME.
	legacyName := "composegen-test-legacy-" + strconv.Itoa(os.Getpid())
	legacy, err := c.CreateContainer(docker.CreateContainerOptions{
		Name:   legacyName,
		Config: &docker.Config{Image: "busybox", Cmd: []string{"true"}, Volumes: map[string]struct{}{"/legacy": {}}, Labels: map[string]string{"io.composegen.test": "legacy"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = c.RemoveContainer(docker.RemoveContainerOptions{ID: legacy.ID, Force: true, RemoveVolumes: true})
	})

	data := sleeper("data")
	data.Mounts = []composeplan.MountSpec{{Type: "volume", Target: "/shared"}}
	data.Ipc = "shareable"
	// reader names data only through volumes_from, pid and ipc (no
	// depends_on, as in a hand-written plan): it is started after it.
	reader := sleeper("reader")
	reader.VolumesFrom = []string{"service:data:ro", "container:" + legacyName}
	reader.Pid = "service:data"
	reader.Ipc = "service:data"
	rw := sleeper("rw")
	rw.VolumesFrom = []string{"data"} // compose's short form, read-write
	hostns := sleeper("hostns")
	hostns.Pid, hostns.Ipc = "host", "host"
	plan := &composeplan.Plan{Name: "rt-ns", Services: []composeplan.ServiceSpec{data, hostns, reader, rw}}

	// Starting reader alone brings up data too.
	s := Start(t, plan, WithServices("reader", "rw", "hostns"))
	d, r := s.Service("data"), s.Service("reader")
	if d == nil {
		t.Fatal("data, named by reader's volumes_from, pid and ipc, was not started")
	}
	sh(t, d, "echo from-data > /shared/f")
	if got := sh(t, r, "cat /shared/f"); got != "from-data" {
		t.Errorf("volumes_from service:data:ro: %q", got)
	}
	if out := shFails(t, r, "echo x > /shared/g"); !strings.Contains(out, "Read-only") {
		t.Errorf("volumes_from :ro is writable: %q", out)
	}
	sh(t, s.Service("rw"), "echo from-rw > /shared/g")
	if got := sh(t, d, "cat /shared/g"); got != "from-rw" {
		t.Errorf("volumes_from data (rw): %q", got)
	}
	sh(t, r, "test -d /legacy")

	// pid and ipc service:data share data's namespaces.
	ns := func(svc *Service, kind string) string { return sh(t, svc, "readlink /proc/self/ns/"+kind) }
	for _, kind := range []string{"pid", "ipc"} {
		if a, b := ns(d, kind), ns(r, kind); a != b {
			t.Errorf("%s service:data: reader in %s, data in %s", kind, b, a)
		}
		if a, b := ns(d, kind), ns(s.Service("rw"), kind); a == b {
			t.Errorf("%s: rw shares data's namespace %s without asking", kind, a)
		}
	}
	if got := sh(t, r, "cat /proc/1/cmdline | tr '\\0' ' '"); got != "sleep 300" {
		t.Errorf("pid service:data: pid 1 is %q", got)
	}
	// pid and ipc host: the engine host's namespaces (compared when the
	// engine is local), where dockerd runs.
	h := s.Service("hostns")
	if s.info.Local {
		for _, kind := range []string{"pid", "ipc"} {
			if local, err := os.Readlink("/proc/self/ns/" + kind); err == nil && ns(h, kind) != local {
				t.Errorf("%s host: %s, the host has %s", kind, ns(h, kind), local)
			}
		}
	}
	if got := sh(t, h, "cat /proc/*/comm 2>/dev/null | grep -c dockerd || true"); got == "0" {
		t.Error("pid host: dockerd is not visible")
	}
	info, err := c.InspectContainer(r.ContainerID())
	if err != nil {
		t.Fatal(err)
	}
	if want := "container:" + d.ContainerID(); info.HostConfig.PidMode != want || info.HostConfig.IpcMode != want {
		t.Errorf("reader pid %q ipc %q, want %q", info.HostConfig.PidMode, info.HostConfig.IpcMode, want)
	}

	// data, whose namespaces reader shares, goes down with the rest
	// (Podman removes it only after reader).
	if err := s.Down(context.Background()); err != nil {
		t.Errorf("Down: %v", err)
	}

	// A reference to a service that is not in the plan is refused.
	bad := sleeper("bad")
	bad.VolumesFrom = []string{"service:ghost"}
	if _, err := Up(context.Background(), &composeplan.Plan{Name: "rt-ns-bad", Services: []composeplan.ServiceSpec{bad}}); err == nil || !strings.Contains(err.Error(), `"ghost"`) {
		t.Errorf("volumes_from a missing service: %v", err)
	}
}

func TestFidelitySecretConfigMode(t *testing.T) {
	requireDocker(t)
	t.Parallel()
	dir := projectDir(t, map[string]string{"secret.txt": "s3cret", "app.conf": "conf\n"})
	mode := func(m uint32) *uint32 { return &m }
	plan := &composeplan.Plan{
		Name:    "rt-filemode",
		Secrets: []composeplan.FileSpec{{Name: "token", File: "secret.txt"}},
		Configs: []composeplan.FileSpec{{Name: "conf", File: "app.conf"}, {Name: "inline", Content: "inline"}},
		Services: []composeplan.ServiceSpec{{
			Name: "app", Image: "busybox", Command: []string{"sleep", "300"}, Lifecycle: composeplan.LifecycleWorker,
			Secrets: []composeplan.FileRef{
				{Source: "token", Mode: mode(0o400), UID: "1234", GID: "${RT_SECRET_GID}"},
				{Source: "token", Target: "plain"},
			},
			Configs: []composeplan.FileRef{
				{Source: "conf", Target: "/etc/app.conf", Mode: mode(0o640)},
				{Source: "inline", Target: "/inline", Mode: mode(0o755), UID: "0", GID: "0"},
			},
		}},
	}
	s, err := Up(context.Background(), plan, WithDir(dir), WithEnv("RT_SECRET_GID", "2345"))
	if err != nil && os.Geteuid() != 0 && strings.Contains(err.Error(), "uid/gid") {
		t.Skipf("setting a file's owner needs root: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Down(context.Background()) })
	app := s.Service("app")
	got := sh(t, app, "stat -c '%a %u %g %n' /run/secrets/token /etc/app.conf /inline && cat /run/secrets/token /etc/app.conf /inline")
	want := "400 1234 2345 /run/secrets/token\n640 " + strconv.Itoa(os.Getuid()) + " " + strconv.Itoa(os.Getgid()) + " /etc/app.conf\n755 0 0 /inline\ns3cret" + "conf\ninline"
	if got != want {
		t.Errorf("secret/config mode, uid, gid:\n got %q\nwant %q", got, want)
	}
	// Without mode, uid or gid the source is mounted as it is.
	if got := sh(t, app, "stat -c '%a' /run/secrets/plain"); got != "644" {
		t.Errorf("plain secret mode %s, want the file's 644", got)
	}
	// The copies are read-only, as the mounted source is.
	shFails(t, app, "echo x > /etc/app.conf")
	// The original is untouched.
	if fi, err := os.Stat(filepath.Join(s.dir, "secret.txt")); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("source secret changed: %v %v", fi.Mode(), err)
	}
}
