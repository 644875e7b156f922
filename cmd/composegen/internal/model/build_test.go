package model

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/composegen/composegen/cmd/composegen/internal/load"
	"github.com/composegen/composegen/runtime/composeplan"
)

func build(t *testing.T, compose string, environ ...string) (*Project, error) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(compose), 0o644); err != nil {
		t.Fatal(err)
	}
	if environ == nil {
		environ = []string{}
	}
	r, err := load.Load(context.Background(), load.Options{WorkDir: dir, Environ: environ})
	if err != nil {
		return nil, err
	}
	return Build(r, BuildOptions{Package: "fixtures"})
}

func mustBuild(t *testing.T, compose string, environ ...string) *Project {
	t.Helper()
	p, err := build(t, compose, environ...)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return p
}

func svc(t *testing.T, p *Project, name string) (Service, composeplan.ServiceSpec) {
	t.Helper()
	for i, s := range p.Services {
		if s.Name == name {
			return s, p.Plan.Services[i]
		}
	}
	t.Fatalf("no service %s", name)
	return Service{}, composeplan.ServiceSpec{}
}

func TestNoLeakIntoModel(t *testing.T) {
	p := mustBuild(t, `services:
  db:
    image: postgres:16
    environment:
      POSTGRES_PASSWORD: ${DB_PASSWORD:-secret}
      SHELL_VAR:
    command: ["postgres", "-c", "x=$DB_PASSWORD"]
`, "DB_PASSWORD=hunter2", "SHELL_VAR=hunter2")
	dump := fmt.Sprintf("%#v", *p)
	if strings.Contains(dump, "hunter2") {
		t.Fatalf("hunter2 leaked into the model: %s", dump)
	}
	_, spec := svc(t, p, "db")
	want := []composeplan.EnvVar{
		{Name: "POSTGRES_PASSWORD", Value: "${DB_PASSWORD:-secret}"},
		{Name: "SHELL_VAR", FromEnv: true},
	}
	if fmt.Sprint(spec.Environment) != fmt.Sprint(want) {
		t.Errorf("environment = %+v", spec.Environment)
	}
	if !strings.Contains(dump, "${DB_PASSWORD:-secret}") {
		t.Error("template missing")
	}
}

func TestPorts(t *testing.T) {
	p := mustBuild(t, `services:
  app:
    image: example/app
    ports:
      - "8080:80"
      - "127.0.0.1:9000-9002:9000-9002"
      - "53:53/udp"
      - target: 443
        published: "8443"
        name: https
        app_protocol: https
      - "80"
    expose:
      - "3000"
      - "4000-4001/tcp"
      - 9000
`)
	ms, spec := svc(t, p, "app")
	var got []string
	for i, port := range spec.Ports {
		got = append(got, fmt.Sprintf("%s=%d/%s pub=%q ip=%q expose=%v", ms.Methods[i].Name, port.Target, port.Protocol, port.Published, port.HostIP, port.Expose))
	}
	want := []string{
		`Port80=80/tcp pub="8080" ip="" expose=false`,
		`Port9000=9000/tcp pub="9000" ip="127.0.0.1" expose=false`,
		`Port9001=9001/tcp pub="9001" ip="127.0.0.1" expose=false`,
		`Port9002=9002/tcp pub="9002" ip="127.0.0.1" expose=false`,
		`Port53UDP=53/udp pub="53" ip="" expose=false`,
		`HTTPS=443/tcp pub="8443" ip="" expose=false`,
		`Port3000=3000/tcp pub="" ip="" expose=true`,
		`Port4000=4000/tcp pub="" ip="" expose=true`,
		`Port4001=4001/tcp pub="" ip="" expose=true`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("ports:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// Unknown kind with a declared tcp port and no healthcheck: tcp probe.
	if spec.Probe == nil || spec.Probe.Protocol != "tcp" || spec.Probe.Port != 80 {
		t.Errorf("probe = %+v", spec.Probe)
	}
}

func TestKindsAndProbes(t *testing.T) {
	p := mustBuild(t, `services:
  db:
    image: docker.io/library/postgres:16-alpine
  cache:
    image: redis:7
    ports: ["6380:6379"]
    healthcheck:
      test: ["CMD", "redis-cli", "ping"]
      interval: 5s
      retries: 3
  off:
    image: postgres
    healthcheck:
      disable: true
  worker:
    image: busybox
`)
	_, db := svc(t, p, "db")
	if db.Kind != "postgres" || len(db.Ports) != 1 || !db.Ports[0].Implicit || db.Ports[0].Target != 5432 {
		t.Errorf("db = kind %q ports %+v", db.Kind, db.Ports)
	}
	if db.Probe == nil || db.Probe.Protocol != "postgres" {
		t.Errorf("db probe = %+v", db.Probe)
	}
	_, cache := svc(t, p, "cache")
	if cache.Kind != "redis" || len(cache.Ports) != 1 || cache.Ports[0].Implicit {
		t.Errorf("cache ports = %+v", cache.Ports)
	}
	// With a healthcheck, the kind's probe is the gate in front of it.
	if cache.Probe == nil || cache.Probe.Protocol != "redis" || cache.Healthcheck == nil || cache.Healthcheck.Retries != 3 || cache.Healthcheck.Interval.String() != "5s" {
		t.Errorf("cache probe %+v healthcheck %+v", cache.Probe, cache.Healthcheck)
	}
	_, off := svc(t, p, "off")
	if off.Probe == nil || off.Probe.Protocol != "postgres" || !off.Healthcheck.Disable {
		t.Errorf("off probe %+v healthcheck %+v", off.Probe, off.Healthcheck)
	}
	_, worker := svc(t, p, "worker")
	if worker.Probe != nil || worker.Kind != "" {
		t.Errorf("worker = %+v", worker)
	}
}

func TestIdentifiers(t *testing.T) {
	p := mustBuild(t, `services:
  stack: {image: busybox}
  shared: {image: busybox}
  order-db: {image: busybox}
  order_db: {image: busybox}
  2fa: {image: busybox}
  api:
    image: busybox
    environment:
      POSTGRES_USER: u
      DATABASE_URL: x
      db-url: y
`)
	want := map[string]string{"stack": "StackService", "shared": "SharedService", "order-db": "OrderDB", "order_db": "OrderDB2", "2fa": "S2fa", "api": "API"}
	for _, s := range p.Services {
		if want[s.Name] != s.TypeName {
			t.Errorf("%s → %s, want %s", s.Name, s.TypeName, want[s.Name])
		}
	}
	api, _ := svc(t, p, "api")
	var fields []string
	for _, e := range api.Env {
		fields = append(fields, e.Name+"="+e.Field)
	}
	if got := strings.Join(fields, ","); got != "DATABASE_URL=DatabaseURL,POSTGRES_USER=PostgresUser,db-url=DBURL" {
		t.Errorf("env fields = %s", got)
	}
}

func TestUnsupported(t *testing.T) {
	p := mustBuild(t, `services:
  app:
    image: busybox
    uts: host
    cgroup: host
    mac_address: "02:42:ac:11:00:02"
    deploy:
      resources:
        limits: {cpus: "0.5"}
`)
	var got []string
	for _, w := range p.Diagnostics {
		got = append(got, w.String())
	}
	all := strings.Join(got, "\n")
	for _, want := range []string{
		`compose.yaml:4:5: service "app": uts: not supported`,
		`compose.yaml:5:5: service "app": cgroup: not supported`,
		`compose.yaml:6:5: service "app": mac_address: not supported`,
		`service "app": deploy.resources: not supported`,
	} {
		if !strings.Contains(all, want) {
			t.Errorf("warnings lack %q:\n%s", want, all)
		}
	}
	for _, field := range []string{"deploy:\n      replicas: 3", "scale: 3"} {
		p := mustBuild(t, "services:\n  app:\n    image: busybox\n    "+field+"\n")
		if ms, spec := svc(t, p, "app"); spec.Replicas != 3 || ms.Replicas != 3 {
			t.Errorf("%s: replicas = %d, %d", field, spec.Replicas, ms.Replicas)
		}
	}
	p = mustBuild(t, "services:\n  app:\n    image: busybox\n    deploy:\n      replicas: 1\n")
	if ms, spec := svc(t, p, "app"); spec.Replicas != 0 || ms.Replicas != 1 {
		t.Errorf("replicas 1: %d, %d", spec.Replicas, ms.Replicas)
	}
}

func TestExtension(t *testing.T) {
	p := mustBuild(t, `services:
  db:
    image: my.registry/custom-pg:1
    x-composegen:
      kind: postgres
      accessors:
        JDBC: "jdbc:postgresql://{{.Addr}}/app"
        admin: "{{.Env \"ADMIN\"}}"
`)
	ms, spec := svc(t, p, "db")
	if spec.Kind != "postgres" || ms.Kind != "postgres" {
		t.Errorf("kind = %q", spec.Kind)
	}
	var user []string
	for _, m := range ms.Methods {
		if m.Kind == UserAccessor {
			user = append(user, m.Name)
		}
	}
	if strings.Join(user, ",") != "Admin,JDBC" {
		t.Errorf("accessors = %+v", ms.Methods)
	}
	for _, tc := range []struct{ ext, want string }{
		{"kind: nosuchkind", `x-composegen.kind: unknown kind "nosuchkind"`},
		{"accessors: {\"bad name\": x}", "is not an identifier"},
		{"accessors: {X: \"{{.Broken\"}", "invalid template"},
		{"accessors: {Env: x}", "collides with"},
		{"colour: blue", `unknown key "colour"`},
	} {
		_, err := build(t, "services:\n  db:\n    image: busybox\n    x-composegen:\n      "+tc.ext+"\n")
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), `service "db"`) {
			t.Errorf("%s: err = %v, want %q", tc.ext, err, tc.want)
		}
	}
}

func TestPathsAndResources(t *testing.T) {
	dir := t.TempDir()
	proj := filepath.Join(dir, "deploy")
	out := filepath.Join(dir, "internal", "itest")
	for _, d := range []string{proj, out} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// A go.mod marks the module root: paths inside it are relative.
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module x\n"), 0o644)
	os.WriteFile(filepath.Join(proj, ".env"), []byte("A=1\n"), 0o644)
	os.WriteFile(filepath.Join(proj, "compose.yaml"), []byte(`services:
  web:
    build:
      context: ./web
      args: [VERSION]
    env_file: [web.env]
    volumes:
      - ./data:/data
      - /var/run/docker.sock:/var/run/docker.sock:ro
      - cache:/cache
    secrets: [token]
    networks: [back]
volumes:
  cache: {}
networks:
  back: {}
secrets:
  token:
    file: ./token.txt
`), 0o644)
	r, err := load.Load(context.Background(), load.Options{WorkDir: proj, OutDir: out, Environ: []string{"VERSION=hunter2"}})
	if err != nil {
		t.Fatal(err)
	}
	p, err := Build(r, BuildOptions{Package: "itest"})
	if err != nil {
		t.Fatal(err)
	}
	plan := p.Plan
	if plan.Dir != "../../deploy" || plan.Files[0] != "../../deploy/compose.yaml" {
		t.Errorf("Dir %q Files %v", plan.Dir, plan.Files)
	}
	// The compose file is the drift check's only input (not .env, web.env
	// or token.txt), relative to the generated file.
	data, _ := os.ReadFile(filepath.Join(proj, "compose.yaml"))
	if want := []composeplan.Input{{Path: "../../deploy/compose.yaml", SHA256: composeplan.HashContent(data)}}; !reflect.DeepEqual(plan.Inputs, want) {
		t.Errorf("Inputs = %+v, want %+v", plan.Inputs, want)
	}
	if len(plan.EnvFiles) != 1 || plan.EnvFiles[0].Path != ".env" || plan.EnvFiles[0].Required {
		t.Errorf("EnvFiles = %+v", plan.EnvFiles)
	}
	web := plan.Services[0]
	if web.Build.Context != "web" || web.Build.Args["VERSION"] != "${VERSION}" {
		t.Errorf("build = %+v", web.Build)
	}
	if web.EnvFiles[0].Path != "web.env" || !web.EnvFiles[0].Required {
		t.Errorf("env files = %+v", web.EnvFiles)
	}
	wantMounts := []composeplan.MountSpec{
		{Type: "bind", Source: "data", Target: "/data"},
		{Type: "bind", Source: "/var/run/docker.sock", Target: "/var/run/docker.sock", ReadOnly: true},
		{Type: "volume", Source: "cache", Target: "/cache"},
	}
	if fmt.Sprint(web.Mounts) != fmt.Sprint(wantMounts) {
		t.Errorf("mounts = %+v", web.Mounts)
	}
	if len(web.Networks) != 1 || web.Networks[0].Network != "back" {
		t.Errorf("networks = %+v", web.Networks)
	}
	if len(plan.Secrets) != 1 || plan.Secrets[0].File != "token.txt" {
		t.Errorf("secrets = %+v", plan.Secrets)
	}
	if len(plan.Volumes) != 1 || plan.Volumes[0].Name != "cache" {
		t.Errorf("volumes = %+v", plan.Volumes)
	}
	if got := strings.Join(p.Header.Sources, ","); got != "../../deploy/compose.yaml" {
		t.Errorf("sources = %s (the project's .env is no source: it is not committed)", got)
	}
	if strings.Contains(fmt.Sprintf("%#v", *p), "hunter2") {
		t.Error("build arg leaked")
	}
}

func TestEngineImports(t *testing.T) {
	got, err := EngineImports([]string{"kubernetes", "docker", "podman", "kubernetes"})
	if err != nil || len(got) != 1 || got[0] != "github.com/composegen/composegen/kube" {
		t.Errorf("EngineImports = %v, %v; want the kube package once", got, err)
	}
	if got, err := EngineImports(nil); err != nil || len(got) != 0 {
		t.Errorf("EngineImports(nil) = %v, %v", got, err)
	}
	if _, err := EngineImports([]string{"k8s"}); err == nil || !strings.Contains(err.Error(), "kubernetes") {
		t.Errorf("EngineImports(k8s) error = %v, want one naming the engines", err)
	}
}
