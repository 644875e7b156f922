package model

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/composegen/composegen/cmd/composegen/internal/load"
	"github.com/composegen/composegen/runtime/composeplan"
)

// The plan carries every field the runtime implements, as the runtime's
// fidelity tests (runtime/fidelity_test.go) expect it, and none of them is
// reported as unsupported.
const fidelityCompose = `name: fidelity
services:
  app:
    image: example/app:${TAG:-1}
    build:
      context: ./app
      dockerfile: docker/App.dockerfile
      target: dev
      args:
        GREETING: hello
        FROM_ENV:
    pull_policy: build
    command: echo "hello world" $$HOME
    entrypoint: /bin/sh -c
    working_dir: /srv
    user: "1000:1000"
    hostname: apphost
    extra_hosts: ["db.example:10.0.0.1", "other.example=10.0.0.2"]
    init: true
    shm_size: 64m
    ulimits:
      nofile: {soft: 1024, hard: 2048}
      nproc: 512
    cap_add: [NET_ADMIN]
    cap_drop: [CHOWN]
    privileged: true
    read_only: true
    stop_signal: SIGUSR1
    stop_grace_period: 1m30s
    tty: true
    stdin_open: true
    sysctls: {net.core.somaxconn: "1024"}
    platform: linux/amd64
    labels: {team: core}
    env_file:
      - base.env
      - path: optional.env
        required: false
      - path: raw.env
        format: raw
    environment: [A=1, B]
    volumes:
      - ./data:/data
      - type: bind
        source: ./conf
        target: /etc/app
        read_only: true
      - cache:/cache
      - shared:/shared:ro
      - type: tmpfs
        target: /scratch
    tmpfs: [/run/t]
    secrets: [token, {source: token, target: other, mode: 0440, uid: "1000", gid: "${SECRET_GID:-1000}"}]
    configs: [{source: conf_file, target: /etc/app.conf}, env_conf, inline_conf]
    networks:
      front: {aliases: [app-alias]}
      back: {}
    links: ["db:database"]
    container_name: fixed-app
    depends_on:
      db: {condition: service_healthy, restart: true}
      debugger: {condition: service_started, required: false}
    ports:
      - name: web
        target: 8080
        published: "18080"
        host_ip: 127.0.0.1
        app_protocol: http
      - "8000-8001:8000-8001"
      - "5353:53/udp"
    expose: ["7000"]
    profiles: [full]
    dns: [10.0.0.53, 10.0.0.54]
    dns_search: example.com
    dns_opt: ["ndots:2"]
    security_opt: ["no-new-privileges:true"]
    group_add: [audio, "4321"]
    mem_limit: 64m
    mem_reservation: 32m
    memswap_limit: 128m
    cpus: 0.1
    cpu_shares: 512
    pids_limit: 100
    oom_kill_disable: true
    oom_score_adj: 200
    volumes_from: ["db:ro", "container:legacy"]
    pid: "service:db"
    ipc: shareable
    devices: ["/dev/null:/dev/mynull:rw", "/dev/zero"]
    userns_mode: host
    cgroup_parent: tests.slice
  db:
    image: postgres:16
    network_mode: none
  sidecar:
    image: busybox
    network_mode: "service:app"
    ipc: "service:app"
    pid: host
    x-composegen: {oneshot: false}
  debugger:
    image: busybox
    profiles: [debug]
    x-composegen: {oneshot: false}
volumes:
  cache: {driver_opts: {type: tmpfs, device: tmpfs, o: "size=${CACHE_SIZE:-10m}"}}
  shared: {external: true, name: team-shared}
networks:
  front: {}
  back: {internal: true, driver_opts: {com.docker.network.driver.mtu: "1400"}}
secrets:
  token: {file: ./token.txt}
configs:
  conf_file: {file: ./app.conf}
  env_conf: {environment: CONF_VALUE}
  inline_conf: {content: "inline $${NOT_A_VAR}"}
`

func TestFidelityPlan(t *testing.T) {
	dir := t.TempDir()
	for name, data := range map[string]string{
		"compose.yaml":              fidelityCompose,
		"app/docker/App.dockerfile": "FROM busybox\n",
		"base.env":                  "X=1\n",
		"raw.env":                   "Y=1\n",
		"token.txt":                 "t",
		"app.conf":                  "c",
	} {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r, err := load.Load(context.Background(), load.Options{WorkDir: dir, Environ: []string{"B=from-shell", "CONF_VALUE=v"}, Profiles: []string{"full"}})
	if err != nil {
		t.Fatal(err)
	}
	p, err := Build(r, BuildOptions{Package: "fx"})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range p.Diagnostics {
		t.Errorf("unexpected warning: %s", w)
	}
	yes := true
	grace := 90 * time.Second
	secretMode := uint32(0o440)
	_, app := svc(t, p, "app")
	want := composeplan.ServiceSpec{
		Name: "app", Image: "example/app:${TAG:-1}", Profiles: []string{"full"},
		Command:     []string{"echo", "hello world", "$$HOME"},
		Entrypoint:  []string{"/bin/sh", "-c"},
		Environment: []composeplan.EnvVar{{Name: "A", Value: "1"}, {Name: "B", FromEnv: true}},
		EnvFiles: []composeplan.EnvFile{
			{Path: "base.env", Required: true},
			{Path: "optional.env"},
			{Path: "raw.env", Required: true, Format: "raw"},
		},
		Labels: map[string]string{"team": "core"},
		Ports: []composeplan.PortSpec{
			{Name: "web", Target: 8080, Protocol: "tcp", Published: "18080", HostIP: "127.0.0.1", AppProtocol: "http"},
			{Target: 8000, Protocol: "tcp", Published: "8000"},
			{Target: 8001, Protocol: "tcp", Published: "8001"},
			{Target: 53, Protocol: "udp", Published: "5353"},
			{Target: 7000, Protocol: "tcp", Expose: true},
		},
		Probe: &composeplan.ProbeSpec{Protocol: "tcp", Port: 8080},
		DependsOn: []composeplan.Dependency{
			{Service: "db", Condition: "service_healthy", Required: true, Restart: true},
			{Service: "debugger", Condition: "service_started"},
		},
		Lifecycle:  composeplan.LifecycleWorker,
		WorkingDir: "/srv", User: "1000:1000", Hostname: "apphost",
		Build: &composeplan.BuildSpec{Context: "app", Dockerfile: "docker/App.dockerfile", Target: "dev",
			Args: map[string]string{"GREETING": "hello", "FROM_ENV": "${FROM_ENV}"}},
		PullPolicy: "build",
		Mounts: []composeplan.MountSpec{
			{Type: "bind", Source: "data", Target: "/data"},
			{Type: "bind", Source: "conf", Target: "/etc/app", ReadOnly: true},
			{Type: "volume", Source: "cache", Target: "/cache"},
			{Type: "volume", Source: "shared", Target: "/shared", ReadOnly: true},
			{Type: "tmpfs", Target: "/scratch"},
		},
		Tmpfs:      []string{"/run/t"},
		ExtraHosts: []string{"db.example:10.0.0.1", "other.example:10.0.0.2"},
		Networks: []composeplan.ServiceNetwork{
			{Network: "back", Aliases: nil},
			{Network: "front", Aliases: []string{"app-alias"}},
		},
		Links:         []string{"db:database"},
		Secrets:       []composeplan.FileRef{{Source: "token", Target: "/run/secrets/token"}, {Source: "token", Target: "other", Mode: &secretMode, UID: "1000", GID: "${SECRET_GID:-1000}"}},
		Configs:       []composeplan.FileRef{{Source: "conf_file", Target: "/etc/app.conf"}, {Source: "env_conf"}, {Source: "inline_conf"}},
		ContainerName: "fixed-app", Init: &yes, Privileged: true, ReadOnly: true, Tty: true, StdinOpen: true,
		CapAdd: []string{"NET_ADMIN"}, CapDrop: []string{"CHOWN"}, ShmSize: 64 << 20,
		Sysctls:    map[string]string{"net.core.somaxconn": "1024"},
		Ulimits:    []composeplan.Ulimit{{Name: "nofile", Soft: 1024, Hard: 2048}, {Name: "nproc", Soft: 512, Hard: 512}},
		StopSignal: "SIGUSR1", StopGracePeriod: &grace, Platform: "linux/amd64",
		DNS: []string{"10.0.0.53", "10.0.0.54"}, DNSSearch: []string{"example.com"}, DNSOpt: []string{"ndots:2"},
		SecurityOpt: []string{"no-new-privileges:true"}, GroupAdd: []string{"audio", "4321"},
		MemLimit: 64 << 20, MemReservation: 32 << 20, MemSwapLimit: 128 << 20,
		CPUs: 0.1, CPUShares: 512, PidsLimit: 100, OomKillDisable: true, OomScoreAdj: 200,
		VolumesFrom: []string{"service:db:ro", "container:legacy"},
		Pid:         "service:db", Ipc: "shareable",
		Devices:    []composeplan.Device{{Source: "/dev/null", Target: "/dev/mynull", Permissions: "rw"}, {Source: "/dev/zero", Target: "/dev/zero", Permissions: "rwm"}},
		UsernsMode: "host", CgroupParent: "tests.slice",
	}
	if !reflect.DeepEqual(app, want) {
		t.Errorf("app spec differs:\n got %+v\nwant %+v", app, want)
		gv, wv := reflect.ValueOf(app), reflect.ValueOf(want)
		for i := 0; i < gv.NumField(); i++ {
			if !reflect.DeepEqual(gv.Field(i).Interface(), wv.Field(i).Interface()) {
				t.Errorf("%s: got %#v, want %#v", gv.Type().Field(i).Name, gv.Field(i).Interface(), wv.Field(i).Interface())
			}
		}
	}
	_, db := svc(t, p, "db")
	_, sidecar := svc(t, p, "sidecar")
	if db.NetworkMode != "none" || sidecar.NetworkMode != "service:app" {
		t.Errorf("network_mode: db %q sidecar %q", db.NetworkMode, sidecar.NetworkMode)
	}
	if sidecar.Ipc != "service:app" || sidecar.Pid != "host" {
		t.Errorf("sidecar ipc %q pid %q", sidecar.Ipc, sidecar.Pid)
	}
	// compose-go turns network_mode service: into a dependency.
	if len(sidecar.DependsOn) != 1 || sidecar.DependsOn[0].Service != "app" {
		t.Errorf("sidecar depends_on = %+v", sidecar.DependsOn)
	}
	plan := p.Plan
	if strings.Join(plan.Profiles, ",") != "full" {
		t.Errorf("plan profiles = %v (the generation's profiles are the runtime default)", plan.Profiles)
	}
	wantRes := []any{
		[]composeplan.VolumeSpec{{Name: "cache", DriverOpts: map[string]string{"type": "tmpfs", "device": "tmpfs", "o": "size=${CACHE_SIZE:-10m}"}}, {Name: "shared", External: true, ExternalName: "team-shared"}},
		[]composeplan.NetworkSpec{{Name: "back", Internal: true, DriverOpts: map[string]string{"com.docker.network.driver.mtu": "1400"}}, {Name: "default"}, {Name: "front"}},
		[]composeplan.FileSpec{{Name: "token", File: "token.txt"}},
		[]composeplan.FileSpec{{Name: "conf_file", File: "app.conf"}, {Name: "env_conf", Environment: "CONF_VALUE"}, {Name: "inline_conf", Content: "inline $${NOT_A_VAR}"}},
	}
	for i, got := range []any{plan.Volumes, plan.Networks, plan.Secrets, plan.Configs} {
		if !reflect.DeepEqual(got, wantRes[i]) {
			t.Errorf("resources: got %+v\nwant %+v", got, wantRes[i])
		}
	}
}

func TestNetworkIPAMWarned(t *testing.T) {
	p := mustBuild(t, `services:
  app: {image: busybox, networks: [n]}
networks:
  n:
    enable_ipv6: true
    ipam:
      config: [{subnet: 172.28.0.0/16}]
`)
	var got []string
	for _, w := range p.Diagnostics {
		got = append(got, w.String())
	}
	all := strings.Join(got, "\n")
	for _, want := range []string{"compose.yaml:6:5: networks.n.ipam: fixed subnets are not supported", "compose.yaml:5:5: networks.n.enable_ipv6: not supported"} {
		if !strings.Contains(all, want) {
			t.Errorf("warnings lack %q:\n%s", want, all)
		}
	}
}
