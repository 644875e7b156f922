package emit

import (
	"time"

	"github.com/composegen/composegen/cmd/composegen/internal/header"
	"github.com/composegen/composegen/cmd/composegen/internal/model"
	"github.com/composegen/composegen/runtime/composeplan"
)

func boolPtr(b bool) *bool                  { return &b }
func u32Ptr(u uint32) *uint32               { return &u }
func durPtr(d time.Duration) *time.Duration { return &d }

// cases are hand-written models, each rendered to testdata/NAME.golden.
// Models built from compose files are in testdata/compose.
var cases = map[string]func() *model.Project{
	"basic":    basicProject,
	"fullplan": fullPlanProject,
	"empty":    emptyProject,
}

func testHeader(sources ...string) header.Header {
	return header.Header{Sources: sources, Version: "v1.2.3", Args: []string{"-f", sources[0]}, Dir: "."}
}

func emptyProject() *model.Project {
	return &model.Project{
		Package: "empty",
		Header:  testHeader("compose.yaml"),
		Plan:    composeplan.Plan{Name: "empty", Files: []string{"compose.yaml"}, Dir: "."},
	}
}

func basicProject() *model.Project {
	return &model.Project{
		Package: "itest",
		Header:  testHeader("../../compose.yaml", "../../compose.override.yaml"),
		Plan: composeplan.Plan{
			Name:     "shop",
			Files:    []string{"../../compose.yaml", "../../compose.override.yaml"},
			Dir:      "../..",
			EnvFiles: []composeplan.EnvFile{{Path: ".env"}},
			Profiles: []string{"debug"},
			Services: []composeplan.ServiceSpec{
				{
					Name:  "api",
					Build: &composeplan.BuildSpec{Context: "./api", Dockerfile: "Dockerfile", Args: map[string]string{"GO_VERSION": "1.26"}},
					Environment: []composeplan.EnvVar{
						{Name: "API_TOKEN", FromEnv: true},
						{Name: "DATABASE_URL", Value: "postgres://app:${DB_PASSWORD:-secret}@postgres:5432/app"},
					},
					Ports: []composeplan.PortSpec{{Name: "http", Target: 8080, Protocol: "tcp", Published: "8080"}},
					Healthcheck: &composeplan.HealthcheckSpec{
						Test:     []string{"CMD-SHELL", "curl -fsS http://localhost:8080/healthz || exit 1"},
						Interval: 5 * time.Second, Timeout: 2 * time.Second, Retries: 10,
					},
					DependsOn: []composeplan.Dependency{
						{Service: "postgres", Condition: "service_healthy", Required: true},
						{Service: "redis", Condition: "service_started", Required: true},
					},
					Replicas: 2,
				},
				{
					Name: "postgres", Image: "postgres:16-alpine", Kind: "postgres", Profiles: []string{"debug"},
					Environment: []composeplan.EnvVar{
						{Name: "POSTGRES_DB", Value: "app"},
						{Name: "POSTGRES_PASSWORD", Value: "${DB_PASSWORD:-secret}"},
						{Name: "POSTGRES_USER", Value: "app"},
					},
					Ports: []composeplan.PortSpec{{Target: 5432, Protocol: "tcp", Published: "5432"}},
					Healthcheck: &composeplan.HealthcheckSpec{
						Test:     []string{"CMD", "pg_isready", "-U", "app"},
						Interval: 5 * time.Second, Timeout: 5 * time.Second, Retries: 5, StartPeriod: 1500 * time.Millisecond,
					},
					Mounts: []composeplan.MountSpec{{Type: "volume", Source: "pgdata", Target: "/var/lib/postgresql/data"}},
				},
				{
					Name: "redis", Image: "redis:7", Kind: "redis",
					Command: []string{"redis-server", "--requirepass", "${REDIS_PASSWORD}"},
					Ports:   []composeplan.PortSpec{{Target: 6379, Protocol: "tcp", Implicit: true}},
					Probe:   &composeplan.ProbeSpec{Protocol: "redis", Port: 6379},
				},
			},
			Volumes: []composeplan.VolumeSpec{{Name: "pgdata"}},
		},
		Profiles: []model.Profile{{Name: "debug", ConstName: "ProfileDebug", Services: []string{"postgres"}}},
		Services: []model.Service{
			{
				Name: "api", TypeName: "API", StartName: "StartAPI", EnvTypeName: "APIEnv", ConstName: "ServiceAPI",
				Origin: "built from ./api", Replicas: 2,
				Methods: []model.Method{
					{Kind: model.PortMethod, Name: "HTTP", Port: 8080, Protocol: "tcp", Doc: "returns container port 8080/tcp (ports: 8080:8080 (http))."},
					{Kind: model.HTTPURL, Name: "URL", Port: 8080, Protocol: "tcp", Doc: "returns http://host:port of container port 8080."},
					{Kind: model.UserAccessor, Name: "BaseURL", Key: "BaseURL", Template: "http://{{.Host}}:{{.Port 8080}}/api/v1", Doc: "renders BaseURL."},
				},
				Env: []model.EnvField{
					{Field: "APIToken", Name: "API_TOKEN", Doc: "is the variable API_TOKEN."},
					{Field: "DatabaseURL", Name: "DATABASE_URL", Doc: "is the variable DATABASE_URL."},
				},
			},
			{
				Name: "postgres", TypeName: "Postgres", StartName: "StartPostgres", EnvTypeName: "PostgresEnv", ConstName: "ServicePostgres",
				Kind: "postgres", Origin: "image postgres:16-alpine", Replicas: 1,
				Methods: []model.Method{
					{Kind: model.PortMethod, Name: "Port5432", Port: 5432, Protocol: "tcp", Doc: "returns container port 5432/tcp."},
					{Kind: model.KindAccessor, Name: "DSN", Func: "PostgresDSN", Result: "string", Doc: "returns the DSN."},
				},
				Notes: []string{"A note from the model."},
				Env: []model.EnvField{
					{Field: "PostgresDB", Name: "POSTGRES_DB", Doc: "is the variable POSTGRES_DB."},
					{Field: "PostgresPassword", Name: "POSTGRES_PASSWORD", Doc: "is the variable POSTGRES_PASSWORD."},
					{Field: "PostgresUser", Name: "POSTGRES_USER", Doc: "is the variable POSTGRES_USER."},
				},
			},
			{
				Name: "redis", TypeName: "Redis", StartName: "StartRedis", EnvTypeName: "RedisEnv", ConstName: "ServiceRedis",
				Kind: "redis", Origin: "image redis:7", Replicas: 1,
				Methods: []model.Method{
					{Kind: model.PortMethod, Name: "Port6379", Port: 6379, Protocol: "tcp", Doc: "returns container port 6379/tcp."},
					{Kind: model.KindAccessor, Name: "Brokers", Func: "KafkaBrokers", Result: "[]string", Doc: "returns a list."},
				},
			},
		},
	}
}

// fullPlanProject sets every field of the plan (TestFullPlanCoversEveryField
// checks it), with nil and empty slices that must stay distinct.
func fullPlanProject() *model.Project {
	svc := composeplan.ServiceSpec{
		Name: "app", Image: "ghcr.io/acme/app:1.2@sha256:abcd", Kind: "", Profiles: []string{"debug"},
		Command:    []string{"serve", "--addr", ":8080", "say \"hi\"\n"},
		Entrypoint: []string{},
		Environment: []composeplan.EnvVar{
			{Name: "A", Value: "${A:?set A}"}, {Name: "B", FromEnv: true}, {Name: "C", Value: "$$literal"},
		},
		EnvFiles:    []composeplan.EnvFile{{Path: "app.env", Required: true, Format: "raw"}},
		FileEnv:     []string{"APP_PASSWORD"},
		Replicas:    2,
		Labels:      map[string]string{"z": "last", "a": "first", "com.example/x": "`raw`"},
		Ports:       []composeplan.PortSpec{{Name: "web", Target: 8080, Protocol: "tcp", Published: "8000-8003", HostIP: "0.0.0.0", AppProtocol: "https", Expose: true, Implicit: true, Advertised: []string{"ADV", "command"}}},
		Healthcheck: &composeplan.HealthcheckSpec{Test: []string{"NONE"}, Interval: 90 * time.Second, Timeout: time.Minute, StartPeriod: 2 * time.Hour, StartInterval: 250 * time.Microsecond, Retries: 3, Disable: true},
		Probe:       &composeplan.ProbeSpec{Protocol: "http", Port: 8080, Path: "/ready"},
		DependsOn:   []composeplan.Dependency{{Service: "db", Condition: "service_completed_successfully", Required: true, Restart: true}},
		Lifecycle:   composeplan.LifecycleWorker,
		WorkingDir:  "/app", User: "1000:1000", Hostname: "app", Restart: "on-failure:3",
		Build:         &composeplan.BuildSpec{Context: ".", Dockerfile: "Dockerfile.dev", Args: map[string]string{"X": "1"}, Target: "dev"},
		PullPolicy:    "never",
		Mounts:        []composeplan.MountSpec{{Type: "bind", Source: "./data", Target: "/data", ReadOnly: true}},
		Tmpfs:         []string{"/tmp"},
		ExtraHosts:    []string{"host.docker.internal:host-gateway"},
		Networks:      []composeplan.ServiceNetwork{{Network: "back", Aliases: []string{"app.local"}}},
		NetworkMode:   "service:db",
		Links:         []string{"db:database"},
		Secrets:       []composeplan.FileRef{{Source: "token", Target: "/run/secrets/token", Mode: u32Ptr(0o440), UID: "1000", GID: "${GID:-1000}"}},
		Configs:       []composeplan.FileRef{{Source: "cfg"}},
		ContainerName: "app-1", Init: boolPtr(false), Privileged: true, ReadOnly: true, Tty: true, StdinOpen: true,
		CapAdd: []string{"NET_ADMIN"}, CapDrop: []string{"ALL"}, ShmSize: 64 << 20,
		Sysctls:         map[string]string{"net.core.somaxconn": "1024"},
		Ulimits:         []composeplan.Ulimit{{Name: "nofile", Soft: 1024, Hard: 65536}},
		StopSignal:      "SIGINT",
		StopGracePeriod: durPtr(3500 * time.Millisecond),
		Platform:        "linux/amd64",
		DNS:             []string{"10.0.0.53"}, DNSSearch: []string{"example.com"}, DNSOpt: []string{"ndots:2"},
		SecurityOpt: []string{"no-new-privileges:true"}, GroupAdd: []string{"audio", "4321"},
		MemLimit: 64 << 20, MemReservation: 32 << 20, MemSwapLimit: -1,
		CPUs: 0.25, CPUShares: 512, PidsLimit: -1, OomKillDisable: true, OomScoreAdj: -500,
		VolumesFrom: []string{"service:db:ro", "container:legacy"},
		Pid:         "service:db", Ipc: "shareable",
		Devices:    []composeplan.Device{{Source: "/dev/fuse", Target: "/dev/fuse", Permissions: "rwm"}},
		UsernsMode: "host", CgroupParent: "tests.slice",
	}
	db := composeplan.ServiceSpec{Name: "db", Image: "postgres", Kind: "postgres", Command: nil, Entrypoint: nil, Init: boolPtr(true), StopGracePeriod: durPtr(0)}
	plan := composeplan.Plan{
		Name: "full", Files: []string{"compose.yaml"}, Dir: ".",
		Inputs:   []composeplan.Input{{Path: "compose.yaml", SHA256: "4f2a8c0e1b7d9a3f5e6c8b0a2d4f6e8a1c3b5d7f9e0a2c4b6d8f0e1a3c5b7d9f"}},
		EnvFiles: []composeplan.EnvFile{{Path: ".env"}, {Path: "ci.env", Required: true, Format: "raw"}},
		Profiles: []string{"debug"},
		Services: []composeplan.ServiceSpec{svc, db},
		Volumes:  []composeplan.VolumeSpec{{Name: "data", External: true, ExternalName: "shared-data", Driver: "local", DriverOpts: map[string]string{"type": "tmpfs"}, Labels: map[string]string{"k": "v"}}},
		Networks: []composeplan.NetworkSpec{{Name: "back", External: true, ExternalName: "ext", Internal: true, Driver: "bridge", DriverOpts: map[string]string{"com.docker.network.driver.mtu": "1400"}, Labels: map[string]string{"k": "v"}}},
		Secrets:  []composeplan.FileSpec{{Name: "token", File: "./token.txt"}, {Name: "env", Environment: "TOKEN"}, {Name: "inline", Content: "x\ny"}, {Name: "ext", External: true}},
		Configs:  []composeplan.FileSpec{{Name: "cfg", File: "cfg.yaml"}},
	}
	return &model.Project{
		Package: "full", Header: testHeader("compose.yaml"), Plan: plan,
		Services: []model.Service{
			{Name: "app", TypeName: "App", StartName: "StartApp", EnvTypeName: "AppEnv", ConstName: "ServiceApp", Origin: "image " + svc.Image, Replicas: 2,
				Methods: []model.Method{{Kind: model.PortMethod, Name: "Web", Port: 8080, Protocol: "tcp", Doc: "returns port 8080 (ports: name: web)."}},
				Env:     []model.EnvField{{Field: "A", Name: "A", Doc: "is A."}, {Field: "B", Name: "B", Doc: "is B."}, {Field: "C", Name: "C", Doc: "is C, \"$$literal\"."}}},
			{Name: "db", TypeName: "DB", StartName: "StartDB", EnvTypeName: "DBEnv", ConstName: "ServiceDB", Kind: "postgres", Origin: "image postgres", Replicas: 1},
		},
		Profiles: []model.Profile{{Name: "debug", ConstName: "ProfileDebug", Services: []string{"app"}}},
	}
}
