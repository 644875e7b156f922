package model

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/composegen/composegen/runtime/composeplan"
	"github.com/composegen/composegen/templates"
)

// serviceBuilder builds the plan and the model of one service.
type serviceBuilder struct {
	*builder
	s    types.ServiceConfig
	spec composeplan.ServiceSpec
	ms   Service
	ext  extension
	kind *templates.Kind
	// sources describe where each of spec.Ports comes from, for docs.
	sources []string
}

func (b *builder) services() {
	b.completedBy, b.healthyBy = b.dependents()
	for _, name := range b.r.Project.ServiceNames() {
		sb := &serviceBuilder{builder: b, s: b.r.Project.Services[name]}
		sb.build()
		b.p.Plan.Services = append(b.p.Plan.Services, sb.spec)
		b.p.Services = append(b.p.Services, sb.ms)
	}
}

// build fills spec and ms, section by section.
func (sb *serviceBuilder) build() {
	sb.base()
	sb.ext = sb.extension()
	sb.detectKind()
	sb.environment()
	sb.ports()
	sb.advertised()
	sb.healthcheck()
	sb.probe()
	sb.dependencies()
	sb.buildSection()
	sb.mounts()
	sb.extraHosts()
	sb.networks()
	sb.secretsAndConfigs()
	sb.ulimits()
	sb.hostOptions()
	sb.replicas()
	sb.checkRestart()
	sb.lifecycle()
	sb.methods()
	sb.unsupported()
}

// base maps the plain attributes.
func (sb *serviceBuilder) base() {
	s := sb.s
	sb.spec = composeplan.ServiceSpec{
		Name:          s.Name,
		Image:         sb.t(s.Image),
		Profiles:      sb.ts(s.Profiles),
		WorkingDir:    sb.t(s.WorkingDir),
		User:          sb.t(s.User),
		Hostname:      sb.t(s.Hostname),
		Restart:       sb.t(s.Restart),
		PullPolicy:    sb.t(s.PullPolicy),
		NetworkMode:   sb.t(s.NetworkMode),
		Links:         sb.ts(s.Links),
		ContainerName: sb.t(s.ContainerName),
		Init:          s.Init,
		Privileged:    s.Privileged,
		ReadOnly:      s.ReadOnly,
		Tty:           s.Tty,
		StdinOpen:     s.StdinOpen,
		CapAdd:        sb.ts(s.CapAdd),
		CapDrop:       sb.ts(s.CapDrop),
		ShmSize:       int64(s.ShmSize),
		StopSignal:    sb.t(s.StopSignal),
		Platform:      sb.t(s.Platform),
		Tmpfs:         sb.ts(s.Tmpfs),
		Labels:        sb.tmap(map[string]string(s.Labels)),
		Sysctls:       sb.tmap(map[string]string(s.Sysctls)),
	}
	if s.Command != nil {
		sb.spec.Command = append([]string{}, sb.ts(s.Command)...)
	}
	if s.Entrypoint != nil {
		sb.spec.Entrypoint = append([]string{}, sb.ts(s.Entrypoint)...)
	}
	if s.StopGracePeriod != nil {
		d := time.Duration(*s.StopGracePeriod)
		sb.spec.StopGracePeriod = &d
	}
	sb.ms = Service{Name: s.Name, Origin: origin(&sb.spec), Replicas: 1}
}

// origin returns "image X", "built from DIR" or both, for doc comments.
func origin(spec *composeplan.ServiceSpec) string {
	context := ""
	if spec.Build != nil {
		context = spec.Build.Context
		if context == "" {
			context = "."
		}
	}
	switch {
	case spec.Image != "" && spec.Build != nil:
		return "image " + spec.Image + ", built from " + context
	case spec.Image != "":
		return "image " + spec.Image
	case spec.Build != nil:
		return "built from " + context
	}
	return ""
}

// healthcheck maps the healthcheck.
func (sb *serviceBuilder) healthcheck() {
	hc := sb.s.HealthCheck
	if hc == nil {
		return
	}
	h := &composeplan.HealthcheckSpec{Test: sb.ts(hc.Test), Disable: hc.Disable}
	if hc.Interval != nil {
		h.Interval = time.Duration(*hc.Interval)
	}
	if hc.Timeout != nil {
		h.Timeout = time.Duration(*hc.Timeout)
	}
	if hc.StartPeriod != nil {
		h.StartPeriod = time.Duration(*hc.StartPeriod)
	}
	if hc.StartInterval != nil {
		h.StartInterval = time.Duration(*hc.StartInterval)
	}
	if hc.Retries != nil {
		h.Retries = int(*hc.Retries)
	}
	if len(h.Test) > 0 && h.Test[0] == "NONE" {
		h.Disable = true
	}
	sb.spec.Healthcheck = h
}

// probe sets the readiness probe: the kind's (readiness without a
// healthcheck, and the cheap gate in front of a healthcheck's exec when
// there is one); else, without a healthcheck, a tcp probe of the first
// declared tcp port.
func (sb *serviceBuilder) probe() {
	hc := sb.spec.Healthcheck
	noHealthcheck := hc == nil || hc.Disable || len(hc.Test) == 0
	switch {
	case sb.kind != nil && sb.kind.Probe != nil:
		p := *sb.kind.Probe
		sb.spec.Probe = &p
	case noHealthcheck:
		for _, p := range sb.spec.Ports {
			if p.Protocol == "tcp" && !p.Implicit {
				sb.spec.Probe = &composeplan.ProbeSpec{Protocol: "tcp", Port: p.Target}
				break
			}
		}
	}
}

// dependencies maps depends_on, in name order.
func (sb *serviceBuilder) dependencies() {
	for _, d := range sortedKeys(sb.s.DependsOn) {
		c := sb.s.DependsOn[d]
		cond := c.Condition
		if cond == "" {
			cond = types.ServiceConditionStarted
		}
		sb.spec.DependsOn = append(sb.spec.DependsOn, composeplan.Dependency{Service: d, Condition: cond, Required: c.Required, Restart: c.Restart})
	}
}

// buildSection maps build: context, dockerfile, target and args. A bare
// build arg ("- VERSION") takes the variable of the same name when the
// stack starts.
func (sb *serviceBuilder) buildSection() {
	bc := sb.s.Build
	if bc == nil {
		return
	}
	bs := &composeplan.BuildSpec{Context: sb.path(bc.Context), Dockerfile: sb.t(bc.Dockerfile), Target: sb.t(bc.Target)}
	bare := sb.r.Positions.BareBuildArgs(sb.s.Name)
	if len(bc.Args) > 0 || len(bare) > 0 {
		bs.Args = map[string]string{}
		for _, k := range bare {
			bs.Args[k] = "${" + k + "}"
		}
		for k, v := range bc.Args {
			if v == nil {
				bs.Args[sb.t(k)] = "${" + sb.t(k) + "}"
			} else {
				bs.Args[sb.t(k)] = sb.t(*v)
			}
		}
	}
	sb.spec.Build = bs
	sb.ms.Origin = origin(&sb.spec)
	sb.buildWarnings(bc)
}

func (sb *serviceBuilder) buildWarnings(bc *types.BuildConfig) {
	name := sb.s.Name
	if bc.DockerfileInline != "" {
		sb.warn(name, "build.dockerfile_inline", "inline Dockerfiles are not supported; write the Dockerfile to a file")
	}
	if len(bc.Secrets) > 0 || len(bc.SSH) > 0 {
		sb.warn(name, "build", "build secrets and ssh are not supported; ignored")
	}
	if len(bc.AdditionalContexts) > 0 {
		sb.warn(name, "build.additional_contexts", "additional build contexts are not supported; ignored")
	}
	if len(bc.Platforms) > 0 {
		sb.warn(name, "build.platforms", "build platforms are not supported; ignored")
	}
}

// mounts maps volumes: bind mounts relative to the project, named volumes
// and tmpfs.
func (sb *serviceBuilder) mounts() {
	for i, v := range sb.s.Volumes {
		m := composeplan.MountSpec{Type: v.Type, Target: sb.t(v.Target), ReadOnly: v.ReadOnly}
		switch v.Type {
		case types.VolumeTypeBind:
			m.Source = sb.path(v.Source)
		case types.VolumeTypeVolume, types.VolumeTypeTmpfs:
			m.Source = sb.t(v.Source)
		default:
			sb.warn(sb.s.Name, fmt.Sprintf("volumes[%d]", i), "mount type %q is not supported; ignored", v.Type)
			continue
		}
		sb.spec.Mounts = append(sb.spec.Mounts, m)
	}
}

func (sb *serviceBuilder) extraHosts() {
	var hosts []string
	for h, ips := range sb.s.ExtraHosts {
		for _, ip := range ips {
			hosts = append(hosts, sb.t(h)+":"+sb.t(ip))
		}
	}
	slices.Sort(hosts)
	sb.spec.ExtraHosts = hosts
}

// networks maps the service's networks; nil means the stack's default
// network.
func (sb *serviceBuilder) networks() {
	s := sb.s
	if len(s.Networks) == 0 {
		return
	}
	nets := sortedKeys(s.Networks)
	if len(nets) == 1 && nets[0] == "default" && (s.Networks["default"] == nil || len(s.Networks["default"].Aliases) == 0) {
		return
	}
	for _, n := range nets {
		sn := composeplan.ServiceNetwork{Network: n}
		if c := s.Networks[n]; c != nil {
			sn.Aliases = sb.ts(c.Aliases)
			if c.Ipv4Address != "" || c.Ipv6Address != "" {
				sb.warnWith(s.Name, "networks."+n, "", "Every stack instance gets its own network, on a subnet the engine picks, so that parallel stacks do not collide; the containers reach each other by service name.",
					"fixed IP addresses are not supported; ignored")
			}
		}
		sb.spec.Networks = append(sb.spec.Networks, sn)
	}
}

func (sb *serviceBuilder) secretsAndConfigs() {
	for _, sc := range sb.s.Secrets {
		sb.spec.Secrets = append(sb.spec.Secrets, sb.fileRef(types.FileReferenceConfig(sc)))
	}
	for _, cc := range sb.s.Configs {
		sb.spec.Configs = append(sb.spec.Configs, sb.fileRef(types.FileReferenceConfig(cc)))
	}
}

func (sb *serviceBuilder) fileRef(c types.FileReferenceConfig) composeplan.FileRef {
	r := composeplan.FileRef{Source: sb.t(c.Source), Target: sb.t(c.Target), UID: sb.t(c.UID), GID: sb.t(c.GID)}
	if c.Mode != nil {
		m := uint32(*c.Mode)
		r.Mode = &m
	}
	return r
}

// ulimits maps ulimits in name order; a single value is both soft and hard.
func (sb *serviceBuilder) ulimits() {
	for _, k := range sortedKeys(sb.s.Ulimits) {
		u := sb.s.Ulimits[k]
		if u == nil {
			continue
		}
		l := composeplan.Ulimit{Name: k, Soft: int64(u.Soft), Hard: int64(u.Hard)}
		if u.Single != 0 {
			l.Soft, l.Hard = int64(u.Single), int64(u.Single)
		}
		sb.spec.Ulimits = append(sb.spec.Ulimits, l)
	}
}

// hostOptions maps dns, security_opt, group_add, the resource limits,
// volumes_from, pid, ipc, devices, userns_mode and cgroup_parent.
func (sb *serviceBuilder) hostOptions() {
	s, spec := sb.s, &sb.spec
	spec.DNS = sb.ts(s.DNS)
	spec.DNSSearch = sb.ts(s.DNSSearch)
	spec.DNSOpt = sb.ts(s.DNSOpts)
	spec.SecurityOpt = sb.ts(s.SecurityOpt)
	spec.GroupAdd = sb.ts(s.GroupAdd)
	spec.MemLimit = int64(s.MemLimit)
	spec.MemReservation = int64(s.MemReservation)
	spec.MemSwapLimit = int64(s.MemSwapLimit)
	if s.CPUS != 0 {
		// compose-go keeps a float32: 0.1 would become 0.10000000149.
		spec.CPUs, _ = strconv.ParseFloat(strconv.FormatFloat(float64(s.CPUS), 'g', -1, 32), 64)
	}
	spec.CPUShares = s.CPUShares
	spec.PidsLimit = s.PidsLimit
	spec.OomKillDisable = s.OomKillDisable
	spec.OomScoreAdj = s.OomScoreAdj
	spec.Pid = sb.t(s.Pid)
	spec.Ipc = sb.t(s.Ipc)
	spec.UsernsMode = sb.t(s.UserNSMode)
	spec.CgroupParent = sb.t(s.CgroupParent)
	for _, v := range s.VolumesFrom {
		// The short form names a service: make it explicit.
		if v = sb.t(v); !strings.HasPrefix(v, "container:") && !strings.HasPrefix(v, "service:") {
			v = "service:" + v
		}
		spec.VolumesFrom = append(spec.VolumesFrom, v)
	}
	for _, d := range s.Devices {
		spec.Devices = append(spec.Devices, composeplan.Device{Source: sb.t(d.Source), Target: sb.t(d.Target), Permissions: sb.t(d.Permissions)})
	}
}

// replicas sets the number of containers: scale, else deploy.replicas.
// Zero is started as one (the runtime starts every selected service); a
// warning says so.
func (sb *serviceBuilder) replicas() {
	n, field := -1, ""
	if sb.s.Deploy != nil && sb.s.Deploy.Replicas != nil {
		n, field = *sb.s.Deploy.Replicas, "deploy.replicas"
	}
	if sb.s.Scale != nil {
		n, field = *sb.s.Scale, "scale"
	}
	switch {
	case n == 0:
		sb.warnWith(sb.s.Name, field, "use a profile to keep it from starting by default", "", "0 is started as one container")
	case n > 1:
		sb.spec.Replicas = n
		sb.ms.Replicas = n
	}
}
