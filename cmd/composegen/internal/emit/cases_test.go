package emit

import (
	"time"

	"github.com/composegen/composegen/cmd/composegen/internal/model"
	"github.com/composegen/composegen/runtime/composeplan"
)

func boolPtr(b bool) *bool                  { return &b }
func u32Ptr(u uint32) *uint32               { return &u }
func durPtr(d time.Duration) *time.Duration { return &d }

// cases are hand-written models, each rendered to testdata/NAME.golden.
var cases = map[string]func() *model.Project{
	"basic":      basicProject,
	"collisions": collisionsProject,
	"fullplan":   fullPlanProject,
	"empty":      emptyProject,
}

func emptyProject() *model.Project {
	return &model.Project{
		Package:   "empty",
		Sources:   []string{"compose.yaml"},
		InputHash: "0000000000000000000000000000000000000000000000000000000000000000",
		Plan:      composeplan.Plan{Name: "empty", Files: []string{"compose.yaml"}, Dir: "."},
	}
}

func basicProject() *model.Project {
	return &model.Project{
		Package:   "itest",
		Sources:   []string{"../../compose.yaml", "../../compose.override.yaml", "../../.env"},
		InputHash: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
		Plan: composeplan.Plan{
			Name:     "shop",
			Files:    []string{"../../compose.yaml", "../../compose.override.yaml"},
			Dir:      "../..",
			EnvFiles: []composeplan.EnvFile{{Path: ".env"}},
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
				},
				{
					Name: "postgres", Image: "postgres:16-alpine", Kind: "postgres",
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
		Services: []model.Service{
			{
				Name: "api", GoName: "API",
				Ports: []model.Port{{Method: "HTTP", Target: 8080, Protocol: "tcp", Source: `ports: "8080:8080", name: http`}},
				Env: []model.Env{
					{Field: "APIToken", Name: "API_TOKEN"},
					{Field: "DatabaseURL", Name: "DATABASE_URL", Value: "postgres://app:${DB_PASSWORD:-secret}@postgres:5432/app"},
				},
				Accessors: []model.Accessor{
					{Name: "BaseURL", Template: "http://{{.Host}}:{{.Port 8080}}/api/v1"},
					{Name: "InternalURL", Template: "http://{{.Addr 8080}}"},
				},
			},
			{
				Name: "postgres", GoName: "Postgres", Kind: "postgres", Image: "postgres:16-alpine",
				Ports: []model.Port{{Method: "Port5432", Target: 5432, Protocol: "tcp", Source: `ports: "5432:5432"`}},
				Env: []model.Env{
					{Field: "PostgresDB", Name: "POSTGRES_DB", Value: "app"},
					{Field: "PostgresPassword", Name: "POSTGRES_PASSWORD", Value: "${DB_PASSWORD:-secret}"},
					{Field: "PostgresUser", Name: "POSTGRES_USER", Value: "app"},
				},
			},
			{
				Name: "redis", GoName: "Redis", Kind: "redis", Image: "redis:7",
				Ports: []model.Port{{Method: "Port6379", Target: 6379, Protocol: "tcp", Source: "default port of kind redis"}},
			},
		},
	}
}

// collisionsProject has every name collision the emitter must resolve.
func collisionsProject() *model.Project {
	names := []struct{ name, goName, kind, image string }{
		{"db", "Postgres", "postgres", "docker.io/library/postgres:16"},
		{"db-env", "PostgresEnv", "", "busybox"},
		{"down", "Down", "", "busybox"},
		{"runtime", "Runtime", "", "busybox"},
		{"stack", "Stack", "", "busybox"},
		{"start", "Start", "", "busybox"},
		{"start-db", "StartPostgres", "", "busybox"},
		{"up", "Up", "", "busybox"},
		{"weird", "2weird-name", "rabbitmq", "rabbitmq:3"},
	}
	p := &model.Project{Package: "collide", Sources: []string{"compose.yaml"}, InputHash: "abc",
		Plan: composeplan.Plan{Name: "collide", Files: []string{"compose.yaml"}, Dir: "."}}
	for _, n := range names {
		p.Plan.Services = append(p.Plan.Services, composeplan.ServiceSpec{Name: n.name, Image: n.image, Kind: n.kind})
		p.Services = append(p.Services, model.Service{Name: n.name, GoName: n.goName, Kind: n.kind, Image: n.image})
	}
	db := &p.Services[0]
	p.Plan.Services[0].Ports = []composeplan.PortSpec{{Target: 5432, Protocol: "tcp"}, {Name: "env", Target: 9187, Protocol: "tcp"}, {Target: 53, Protocol: "udp"}}
	db.Ports = []model.Port{
		{Method: "Port5432", Target: 5432, Protocol: "tcp", Source: "ports: \"5432\"\n*/ injected"},
		{Method: "Env", Target: 9187, Protocol: "tcp", Source: "ports: name: env"},
		{Method: "Service", Target: 9188, Protocol: "tcp", Source: "expose: 9188"},
		{Method: "Port53UDP", Target: 53, Protocol: "udp", Source: "ports: 53/udp"},
	}
	db.Env = []model.Env{
		{Field: "PostgresPassword", Name: "POSTGRES_PASSWORD", Value: "p*/ass\nword"},
		{Field: "PostgresPassword", Name: "POSTGRES__PASSWORD", Value: "/* not a comment"},
		{Field: "bad field", Name: "bad.field", Value: "`back`"},
	}
	db.Accessors = []model.Accessor{
		{Name: "DSN", Template: "postgres://{{.Env \"POSTGRES_USER\"}}@{{.Addr 5432}}/x"},
		{Name: "Env", Template: "x"},
		{Name: "Port5432", Template: "y"},
	}
	// rabbitmq without 15672: no ManagementURL.
	p.Plan.Services[8].Ports = []composeplan.PortSpec{{Target: 5672, Protocol: "tcp", Implicit: true}}
	p.Services[8].Ports = []model.Port{{Method: "Port5672", Target: 5672, Protocol: "tcp", Source: "default port of kind rabbitmq"}}
	return p
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
		EnvFiles: []composeplan.EnvFile{{Path: ".env"}, {Path: "ci.env", Required: true, Format: "raw"}},
		Profiles: []string{"debug"},
		Services: []composeplan.ServiceSpec{svc, db},
		Volumes:  []composeplan.VolumeSpec{{Name: "data", External: true, ExternalName: "shared-data", Driver: "local", DriverOpts: map[string]string{"type": "tmpfs"}, Labels: map[string]string{"k": "v"}}},
		Networks: []composeplan.NetworkSpec{{Name: "back", External: true, ExternalName: "ext", Internal: true, Driver: "bridge", DriverOpts: map[string]string{"com.docker.network.driver.mtu": "1400"}, Labels: map[string]string{"k": "v"}}},
		Secrets:  []composeplan.FileSpec{{Name: "token", File: "./token.txt"}, {Name: "env", Environment: "TOKEN"}, {Name: "inline", Content: "x\ny"}, {Name: "ext", External: true}},
		Configs:  []composeplan.FileSpec{{Name: "cfg", File: "cfg.yaml"}},
	}
	return &model.Project{
		Package: "full", Sources: []string{"compose.yaml"}, InputHash: "ff", Plan: plan,
		Services: []model.Service{
			{Name: "app", GoName: "App", Image: svc.Image, Ports: []model.Port{{Method: "Web", Target: 8080, Protocol: "tcp", Source: "ports: name: web"}},
				Env: []model.Env{{Field: "A", Name: "A", Value: "${A:?set A}"}, {Field: "B", Name: "B"}, {Field: "C", Name: "C", Value: "$$literal"}}},
			{Name: "db", GoName: "DB", Kind: "postgres", Image: "postgres"},
		},
	}
}
