package runtime

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	docker "github.com/ory/dockertest/v3/docker"
)

// Tests that each compose field of a hand-built plan takes effect in real
// containers, checked from inside them through Service.Exec.

// projectDir writes files into a fresh directory, makes it the directory
// the plan's relative paths are resolved against (COMPOSEGEN_DIR: from a
// test inside package runtime, callerDir cannot find a generated file) and
// returns the Plan.Dir to use.
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
	t.Setenv("COMPOSEGEN_DIR", dir)
	return "."
}

func testClient(t *testing.T) *docker.Client {
	t.Helper()
	eng, err := getEngine(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return eng.c
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

func sleeper(name string) ServiceSpec {
	return ServiceSpec{Name: name, Image: "busybox", Command: []string{"sleep", "300"}}
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
	c := testClient(t)
	ext := "composegen-test-external-" + strconv.Itoa(os.Getpid())
	if _, err := c.CreateVolume(docker.CreateVolumeOptions{Name: ext, Labels: map[string]string{"io.composegen.test": "external"}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.RemoveVolume(ext) })
	dir := projectDir(t, map[string]string{
		"data/hello.txt": "hello from the host\n",
		"conf/app.conf":  "setting=1\n",
	})
	plan := &Plan{
		Name: "rt-volumes", Dir: dir,
		Volumes: []VolumeSpec{
			{Name: "data", Labels: map[string]string{"io.composegen.test": "named"}},
			{Name: "shared", External: true, ExternalName: ext},
			{Name: "unused"},
		},
		Services: []ServiceSpec{{
			Name: "app", Image: "busybox", Command: []string{"sleep", "300"},
			Mounts: []MountSpec{
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
	s := Start(t, plan, WithTimeout(time.Minute))
	app := s.Service("app")

	// Named volume: per stack instance, labelled, writable.
	sh(t, app, "echo v > /data/v && cat /data/v")
	projectLabel := labelProject + "=" + s.ProjectName()
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
	plan := &Plan{
		Name:    "rt-volinst",
		Volumes: []VolumeSpec{{Name: "data"}},
		Services: []ServiceSpec{{
			Name: "app", Image: "busybox", Command: []string{"sleep", "300"},
			Mounts: []MountSpec{{Type: "volume", Source: "data", Target: "/data"}},
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
	dir := projectDir(t, map[string]string{
		"base.env":     "A=from-base\nB=from-base\nQUOTED=\"q v\"\nREF=${A}-ref\n",
		"override.env": "B=from-override\n",
		"raw.env":      "RAW=\"kept as is\" $HOME\n# comment\n",
		"secret.txt":   "s3cret",
		"app.conf":     "listen 8080\n",
	})
	t.Setenv("RT_CONFIG_FROM_ENV", "config-from-env")
	plan := &Plan{
		Name: "rt-files", Dir: dir,
		Secrets: []FileSpec{{Name: "db_password", File: "secret.txt"}},
		Configs: []FileSpec{
			{Name: "app_conf", File: "app.conf"},
			{Name: "env_conf", Environment: "RT_CONFIG_FROM_ENV"},
			{Name: "inline_conf", Content: "inline ${RT_INLINE:-default}"},
		},
		Services: []ServiceSpec{{
			Name: "app", Image: "busybox", Command: []string{"sleep", "300"},
			EnvFiles: []EnvFile{
				{Path: "base.env", Required: true},
				{Path: "missing.env", Required: false},
				{Path: "override.env", Required: true},
				{Path: "raw.env", Required: true, Format: "raw"},
			},
			Environment: []EnvVar{{Name: "C", Value: "from-environment"}, {Name: "B", Value: "${B:-x}-env"}},
			Secrets: []FileRef{
				{Source: "db_password"},
				{Source: "db_password", Target: "other_name"},
			},
			Configs: []FileRef{
				{Source: "app_conf", Target: "/etc/app/app.conf"},
				{Source: "env_conf"},
				{Source: "inline_conf", Target: "/inline"},
			},
		}},
	}
	s := Start(t, plan)
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
	c := testClient(t)
	tag := "composegen-test/build:" + strconv.Itoa(os.Getpid())
	removeImageAtCleanup(t, c, tag, "rt-build-noimage")
	dir := projectDir(t, map[string]string{
		"app/docker/App.dockerfile": testDockerfile,
		"app/payload.txt":           "payload\n",
		"broken/Dockerfile":         "FROM busybox\nRUN echo building-marker-42 && exit 3\n",
	})
	plan := func(greeting, policy string) *Plan {
		return &Plan{Name: "rt-build", Dir: dir, Services: []ServiceSpec{{
			Name: "app", Image: tag, PullPolicy: policy,
			Build: &BuildSpec{Context: "app", Dockerfile: "docker/App.dockerfile", Target: "dev",
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
	t.Setenv("RT_GREETING", "one")
	s, err := Up(ctx, plan("${RT_GREETING}", ""))
	if err != nil {
		t.Fatal(err)
	}
	check(s, "one")
	_ = s.Down(ctx)
	if _, err := c.InspectImage(tag); err != nil {
		t.Errorf("image: with build is not the built image's tag: %v", err)
	}
	// missing: the image exists, so no rebuild (the old greeting stays).
	s, err = Up(ctx, plan("two", "missing"))
	if err != nil {
		t.Fatal(err)
	}
	check(s, "one")
	_ = s.Down(ctx)
	// build: always rebuilt.
	s, err = Up(ctx, plan("two", "build"))
	if err != nil {
		t.Fatal(err)
	}
	check(s, "two")
	_ = s.Down(ctx)

	// No image: named after the project and service.
	s, err = Up(ctx, &Plan{Name: "rt-build", Dir: dir, Services: []ServiceSpec{{
		Name: "noimage", Build: &BuildSpec{Context: "app", Dockerfile: "docker/App.dockerfile", Target: "prod"},
	}}})
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
	_, err = Up(ctx, &Plan{Name: "rt-build", Dir: dir, Services: []ServiceSpec{{
		Name: "broken", Image: "composegen-test/broken:never-built", Build: &BuildSpec{Context: "broken"},
	}}})
	if err == nil {
		t.Fatal("a failing build started")
	}
	for _, want := range []string{`service "broken"`, "build image composegen-test/broken:never-built", "building-marker-42", "exit 3"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("build error lacks %q:\n%v", want, err)
		}
	}
}

func TestFidelityPullPolicy(t *testing.T) {
	requireDocker(t)
	ctx := context.Background()
	one := func(image, policy string) *Plan {
		return &Plan{Name: "rt-pull", Services: []ServiceSpec{{Name: "app", Image: image, PullPolicy: policy, Command: []string{"sleep", "300"}}}}
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
