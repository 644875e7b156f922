package runtime

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/composegen/composegen/runtime/composeplan"
	"github.com/composegen/composegen/runtime/engine"
	"github.com/composegen/composegen/runtime/internal/interp"
	"github.com/composegen/composegen/runtime/internal/mask"
)

// translateBase is the input of translateService in the golden tests: a
// replica of project "tr" whose stack has a default and a back network, a
// data volume, and the containers of services db and sidecar.
func translateBase() translateInput {
	return translateInput{
		Project: "tr", Number: 1, Image: "example/app:1",
		Env:         map[string]string{"MODE": "test", "URL": "http://localhost:9092"},
		StackLabels: map[string]string{"com.docker.compose.project": "tr", "io.composegen.managed": "true"},
		Dir:         "/project", Home: "/home/u", PublishIP: "127.0.0.1",
		Networks:   map[string]string{"default": "tr_default", "back": "tr_back"},
		Volumes:    map[string]string{"data": "tr_data"},
		Containers: map[string]namedContainer{"db": {ID: "id-db", Name: "tr-db-1"}, "sidecar": {ID: "id-sidecar", Name: "tr-sidecar-1"}},
	}
}

// TestTranslateService checks the translation of services of the plan into
// the containers to create against golden files (testdata/translate/*.json;
// -update rewrites them): every field the engine gets, for services that
// use, between them, the fields composegen supports, and the errors of
// invalid ones.
func TestTranslateService(t *testing.T) {
	grace := 3 * time.Second
	yes := true
	cases := []struct {
		name string
		spec composeplan.ServiceSpec
		in   func(*translateInput)
	}{
		{name: "minimal", spec: composeplan.ServiceSpec{Name: "app", Image: "example/app:1"}},
		{name: "server", spec: composeplan.ServiceSpec{
			Name: "web", Image: "example/app:1",
			Command:    []string{"serve", "--listen", ":${TR_PORT:-8080}", "--peer", "localhost:9092"},
			Entrypoint: []string{"/bin/entry"},
			Ports: []composeplan.PortSpec{
				{Target: 8080, Protocol: "tcp", Published: "8080"},
				{Target: 9092, Published: "9092", Advertised: []string{"command", "URL"}},
				{Target: 53, Protocol: "udp", HostIP: "${TR_IP}"},
			},
			Labels:   map[string]string{"team": "${TR_TEAM:-core}", "com.docker.compose.project": "theirs"},
			Hostname: "web-${TR_TEAM}", User: "1000:1000", WorkingDir: "/srv",
			StopGracePeriod: &grace, StopSignal: "SIGINT", Restart: "on-failure:3",
			Healthcheck: &composeplan.HealthcheckSpec{Test: []string{"CMD", "true"}},
		}, in: func(in *translateInput) { in.Advertised = map[int]int{9092: 41234} }},
		{name: "fixed-ports", spec: composeplan.ServiceSpec{
			Name: "web", Image: "example/app:1",
			Ports: []composeplan.PortSpec{{Target: 8080, Protocol: "tcp", Published: "18080"}},
		}, in: func(in *translateInput) { in.FixedPorts = true }},
		{name: "fixed-ports-second-replica", spec: composeplan.ServiceSpec{
			Name: "web", Image: "example/app:1",
			Ports: []composeplan.PortSpec{{Target: 8080, Protocol: "tcp", Published: "18080"}},
		}, in: func(in *translateInput) { in.FixedPorts, in.Number = true, 2 }},
		{name: "mounts", spec: composeplan.ServiceSpec{
			Name: "app", Image: "example/app:1",
			Mounts: []composeplan.MountSpec{
				{Type: "volume", Source: "data", Target: "/data"},
				{Type: "volume", Source: "cache", Target: "/cache"},
				{Type: "volume", Target: "/anon"},
				{Type: "bind", Source: "./conf", Target: "/etc/app", ReadOnly: true},
				{Type: "bind", Source: "~/.cfg", Target: "/cfg"},
				{Type: "bind", Source: "/abs/${TR_SUB:-x}", Target: "/abs"},
				{Type: "tmpfs", Target: "/tmp"},
			},
		}, in: func(in *translateInput) {
			in.FileMounts = []engine.Mount{{Type: "bind", Source: "/private/secret-1", Target: "/run/secrets/token", ReadOnly: true}}
		}},
		{name: "host-options", spec: composeplan.ServiceSpec{
			Name: "app", Image: "example/app:1",
			DNS: []string{"10.0.0.2"}, DNSSearch: []string{"corp"}, DNSOpt: []string{"ndots:1"},
			CapAdd: []string{"NET_ADMIN"}, CapDrop: []string{"ALL"}, SecurityOpt: []string{"no-new-privileges"},
			GroupAdd: []string{"video"}, ExtraHosts: []string{"api:10.0.0.9"}, Tmpfs: []string{"/run:size=1m", "/cache"},
			MemLimit: 64 << 20, CPUs: 0.5, PidsLimit: 100, OomScoreAdj: -500,
			Devices: []composeplan.Device{{Source: "/dev/fuse"}, {Source: "/dev/null", Target: "/dev/nil", Permissions: "r"}},
			Ulimits: []composeplan.Ulimit{{Name: "nofile", Soft: 1024, Hard: 2048}},
			Sysctls: map[string]string{"net.core.somaxconn": "1024"},
			Init:    &yes, ReadOnly: true, ShmSize: 1 << 20, Tty: true, StdinOpen: true,
		}},
		{name: "networks", spec: composeplan.ServiceSpec{
			Name: "api", Image: "example/app:1", ContainerName: "the-api",
			Networks: []composeplan.ServiceNetwork{{Network: "default"}, {Network: "back", Aliases: []string{"api.internal", "${TR_ALIAS:-v1}.api"}}},
			Links:    []string{"db:database", "sidecar", "absent"},
		}},
		{name: "namespaces", spec: composeplan.ServiceSpec{
			Name: "debug", Image: "busybox", Pid: "service:db", Ipc: "shareable",
			VolumesFrom: []string{"sidecar:ro", "service:db", "container:other:rw"},
		}},
		{name: "network-mode-service", spec: composeplan.ServiceSpec{
			Name: "proxy", Image: "example/app:1", NetworkMode: "service:sidecar",
			Ports: []composeplan.PortSpec{{Target: 80, Protocol: "tcp"}},
		}},
		{name: "network-mode-host", spec: composeplan.ServiceSpec{
			Name: "agent", Image: "example/app:1", NetworkMode: "host",
			Ports: []composeplan.PortSpec{{Target: 80, Protocol: "tcp"}},
		}},
		{name: "error-restart", spec: composeplan.ServiceSpec{Name: "app", Image: "x", Restart: "sometimes"}},
		{name: "error-restart-count", spec: composeplan.ServiceSpec{Name: "app", Image: "x", Restart: "on-failure:many"}},
		{name: "error-network-mode", spec: composeplan.ServiceSpec{Name: "app", Image: "x", NetworkMode: "overlay"}},
		{name: "error-network-mode-service", spec: composeplan.ServiceSpec{Name: "app", Image: "x", NetworkMode: "service:absent"}},
		{name: "error-pid-service", spec: composeplan.ServiceSpec{Name: "app", Image: "x", Pid: "service:absent"}},
		{name: "error-mount-type", spec: composeplan.ServiceSpec{Name: "app", Image: "x", Mounts: []composeplan.MountSpec{{Type: "cluster", Target: "/x"}}}},
		{name: "error-interpolation", spec: composeplan.ServiceSpec{Name: "app", Image: "x", Command: []string{"${TR_REQUIRED:?set TR_REQUIRED}"}}},
	}
	vars := map[string]string{"TR_TEAM": "pay", "TR_IP": "127.0.0.2", "TR_PASSWORD": "s3cret"}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := interp.New(t.TempDir(), nil, vars, &mask.Masker{})
			if err != nil {
				t.Fatal(err)
			}
			in := translateBase()
			if tc.in != nil {
				tc.in(&in)
			}
			c, err := translateService(&tc.spec, res, in)
			var got []byte
			if err != nil {
				got = []byte("error: " + err.Error() + "\n")
			} else if got, err = json.MarshalIndent(c, "", "  "); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", "translate", tc.name+".json")
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -run TestTranslateService -update)", err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("translation of %s (-want +got):\n%s", tc.name, diff)
			}
		})
	}
}

// TestTranslateServiceIsPure translates the same service twice and checks
// that the input is left as it was: the translation neither keeps nor
// changes what it was given.
func TestTranslateServiceIsPure(t *testing.T) {
	spec := composeplan.ServiceSpec{Name: "web", Image: "x", Command: []string{"a", "localhost:9092"},
		Ports:  []composeplan.PortSpec{{Target: 9092, Published: "9092", Advertised: []string{"command"}}},
		Labels: map[string]string{"a": "b"}}
	res, err := interp.New(t.TempDir(), nil, nil, &mask.Masker{})
	if err != nil {
		t.Fatal(err)
	}
	in := translateBase()
	in.Advertised = map[int]int{9092: 40000}
	before := translateBase()
	first, err := translateService(&spec, res, in)
	if err != nil {
		t.Fatal(err)
	}
	first.Labels["a"] = "changed"
	first.Cmd[0] = "changed"
	second, err := translateService(&spec, res, in)
	if err != nil {
		t.Fatal(err)
	}
	if second.Labels["a"] != "b" || second.Cmd[0] != "a" || second.Cmd[1] != "localhost:40000" {
		t.Errorf("second translation: labels %v, cmd %v", second.Labels, second.Cmd)
	}
	if diff := cmp.Diff(before.StackLabels, in.StackLabels); diff != "" {
		t.Errorf("the stack's labels changed (-before +after):\n%s", diff)
	}
	if spec.Command[1] != "localhost:9092" {
		t.Errorf("the plan's command changed: %v", spec.Command)
	}
}
