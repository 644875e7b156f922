package runtime

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/composegen/composegen/runtime/composeplan"
	"github.com/composegen/composegen/runtime/engine"
	"github.com/composegen/composegen/runtime/internal/interp"
	"github.com/composegen/composegen/runtime/internal/label"
)

// labels returns the stack's labels (project, managed, owner) plus extra.
func (s *Stack) labels(extra map[string]string) map[string]string {
	l := s.owner.Labels(s.created)
	l[label.Project] = s.project
	l[label.Managed] = "true"
	for k, v := range s.cfg.labels {
		l[k] = v
	}
	for k, v := range extra {
		l[k] = v
	}
	return l
}

// create creates the replica's container with everything the plan says.
func (r *replica) create(ctx context.Context) error {
	image, err := r.ensureImage(ctx)
	if err != nil {
		return err
	}
	if err := r.checkPlatform(ctx, image); err != nil {
		return err
	}
	spec, err := r.containerSpec(image)
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.name = spec.Name
	r.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	cctx, cancel := creating(ctx) // never abandoned half-way: see creating
	defer cancel()
	id, err := r.stack.eng.Create(cctx, spec)
	if err != nil {
		return fmt.Errorf("create container: %w", err)
	}
	r.mu.Lock()
	r.id = id
	r.tCreated = time.Now()
	r.mu.Unlock()
	return nil
}

// creating returns the context for a request that creates an engine
// resource (container, network, volume): not cancelled with ctx, so that a
// cancelled start never abandons a creation that the engine completes
// anyway, after Down listed what to remove. It is bounded on its own.
func creating(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
}

// containerSpec resolves the plan's service into the container to create:
// it does what translation needs done first (allocate the advertised host
// ports, write the secret and config files, read the ids of the containers
// the service names, which the graph started before: see run), translates
// with translateService, then registers the command's secrets with the
// masker and checks that bind mount sources exist.
func (r *replica) containerSpec(image string) (engine.ContainerSpec, error) {
	st := r.stack
	advertised, err := r.allocateAdvertised()
	if err != nil {
		return engine.ContainerSpec{}, err
	}
	var files engine.ContainerSpec
	if err := r.fileMounts(&files); err != nil {
		return engine.ContainerSpec{}, err
	}
	home, _ := os.UserHomeDir()
	in := translateInput{
		Project: st.project, Number: r.number, Image: image,
		Env: r.Environ(), StackLabels: st.labels(nil), Dir: st.dir, Home: home,
		PublishIP: st.info.PublishIP, FixedPorts: st.cfg.fixedPorts, Advertised: advertised,
		Networks: st.networks, Volumes: st.volumes, FileMounts: files.Mounts,
		Containers: map[string]namedContainer{},
	}
	for _, ref := range containerRefs(r.spec) {
		if dep := st.units[ref.service]; dep != nil && dep != r.unit {
			rep := dep.replicas[0]
			if id := rep.ContainerID(); id != "" {
				in.Containers[ref.service] = namedContainer{ID: id, Name: rep.ContainerName()}
			}
		}
	}
	c, err := translateService(r.spec, st.res, in)
	if err != nil {
		return c, err
	}
	st.mask.AddArgs(c.Cmd)
	st.mask.AddArgs(c.Entrypoint)
	for i := range r.spec.Mounts {
		if m := c.Mounts[i]; m.Type == "bind" {
			if _, err := os.Stat(m.Source); err != nil {
				return c, fmt.Errorf("volumes[%d]: bind mount source %s: %w", i, m.Source, err)
			}
		}
	}
	return c, nil
}

// translateInput is what translating a service of the plan into the
// container to create needs beyond the plan and the variables: what the
// replica resolved beforehand.
type translateInput struct {
	Project string
	Number  int // the replica's number, from 1
	Image   string
	// Env is the container's resolved environment (advertised
	// addresses rewritten).
	Env map[string]string
	// StackLabels are the labels of every resource of the stack
	// (project, managed, owner).
	StackLabels map[string]string
	// Dir is the project directory (relative bind mounts), Home the
	// user's home (~/ bind mounts).
	Dir, Home string
	// PublishIP is the engine's address for published ports.
	PublishIP  string
	FixedPorts bool
	// Advertised is container port → the host port chosen for it.
	Advertised map[int]int
	// Networks and Volumes map the compose names to the engine's.
	Networks, Volumes map[string]string
	// Containers are the containers of the services the service names
	// (links, network_mode, volumes_from, pid, ipc), by service.
	Containers map[string]namedContainer
	// FileMounts are the secrets' and configs' bind mounts.
	FileMounts []engine.Mount
}

// namedContainer is the container of another service of the stack.
type namedContainer struct{ ID, Name string }

// translateService translates service spec of the plan into the container
// to create, interpolating with res. It is a pure function of its
// arguments: no engine, no file system, no waiting (see containerSpec for
// what happens around it).
func translateService(spec *composeplan.ServiceSpec, res *interp.Resolver, in translateInput) (engine.ContainerSpec, error) {
	c := engine.ContainerSpec{
		Name:    in.Project + "-" + spec.Name + "-" + strconv.Itoa(in.Number),
		Project: in.Project, Service: spec.Name, Number: in.Number,
		Image: in.Image, Tty: spec.Tty, OpenStdin: spec.StdinOpen, StopSignal: spec.StopSignal,
		Init: spec.Init, Privileged: spec.Privileged, ReadOnly: spec.ReadOnly, ShmSize: spec.ShmSize,
		Sysctls: spec.Sysctls, Platform: spec.Platform,
	}
	t := translator{spec: spec, res: res, in: in}
	var err error
	if c.PullPolicy, err = res.Expand("pull_policy", spec.PullPolicy); err != nil {
		return c, err
	}
	if c.Cmd, err = res.ExpandAll("command", spec.Command); err != nil {
		return c, err
	}
	c.Cmd = rewriteAdvertised(c.Cmd, "command", spec.Ports, in.Advertised)
	if c.Entrypoint, err = res.ExpandAll("entrypoint", spec.Entrypoint); err != nil {
		return c, err
	}
	c.Env = interp.List(in.Env)
	if c.Labels, err = t.labels(); err != nil {
		return c, err
	}
	for _, f := range []struct {
		dst  *string
		name string
		v    string
	}{{&c.Hostname, "hostname", spec.Hostname}, {&c.User, "user", spec.User}, {&c.WorkingDir, "working_dir", spec.WorkingDir}, {&c.Platform, "platform", spec.Platform}} {
		if *f.dst, err = res.Expand(f.name, f.v); err != nil {
			return c, err
		}
	}
	if spec.StopGracePeriod != nil {
		c.StopTimeout = *spec.StopGracePeriod
	}
	if spec.Healthcheck != nil {
		// The runtime runs the compose healthcheck itself, once the
		// probe passed and on its own cadence (see awaitReady), so the
		// engine must not run it as well: its execs at every interval,
		// for the container's whole life, would compete with the
		// servers for CPU (12 example stacks at once on 2 cores: dockerd
		// and containerd used 13-16s of CPU with them, 5s without, and
		// the starts went from failing to 1.01x the limit) and could run
		// before the server answers, which is what broke RabbitMQ. NONE also overrides the image's HEALTHCHECK, as the
		// compose file asks.
		c.Healthcheck = &engine.Healthcheck{Test: []string{"NONE"}}
	}
	for _, u := range spec.Ulimits {
		c.Ulimits = append(c.Ulimits, engine.Ulimit{Name: u.Name, Soft: u.Soft, Hard: u.Hard})
	}
	if c.Restart, err = restartPolicy(res, spec.Restart); err != nil {
		return c, err
	}
	if err := t.hostOptions(&c); err != nil {
		return c, err
	}
	for i, m := range spec.Mounts {
		em, err := t.mount(m)
		if err != nil {
			return c, fmt.Errorf("volumes[%d]: %w", i, err)
		}
		c.Mounts = append(c.Mounts, em)
	}
	c.Mounts = append(c.Mounts, in.FileMounts...)
	c.Ports = t.portBindings()
	if err := t.namespaces(&c); err != nil {
		return c, err
	}
	return c, t.networking(&c)
}

// translator holds translateService's arguments for its parts.
type translator struct {
	spec *composeplan.ServiceSpec
	res  *interp.Resolver
	in   translateInput
}

// labels are the service's labels (interpolated), then the stack's and
// compose's, which a service label cannot override (as with docker
// compose): the reaper and the sharing find a stack's resources by them.
func (t translator) labels() (map[string]string, error) {
	labels := map[string]string{}
	for k, v := range t.spec.Labels {
		x, err := t.res.Expand("labels."+k, v)
		if err != nil {
			return nil, err
		}
		labels[k] = x
	}
	for k, v := range t.in.StackLabels {
		labels[k] = v
	}
	labels[label.Service] = t.spec.Name
	labels[label.Oneoff] = "False"
	labels[label.Number] = strconv.Itoa(t.in.Number)
	labels[label.WorkingDir] = t.in.Dir
	return labels, nil
}

// restartPolicy parses a compose restart value (interpolated).
func restartPolicy(res *interp.Resolver, v string) (engine.RestartPolicy, error) {
	p, err := res.Expand("restart", v)
	if err != nil {
		return engine.RestartPolicy{}, err
	}
	switch {
	case p == "" || p == "no":
		return engine.RestartPolicy{}, nil
	case p == "always" || p == "unless-stopped":
		return engine.RestartPolicy{Name: p}, nil
	case p == "on-failure" || strings.HasPrefix(p, "on-failure:"):
		n := 0
		if rest, ok := strings.CutPrefix(p, "on-failure:"); ok {
			if n, err = strconv.Atoi(rest); err != nil || n < 0 {
				return engine.RestartPolicy{}, fmt.Errorf("restart: %q: the retry count must be a number", p)
			}
		}
		return engine.RestartPolicy{Name: "on-failure", MaxRetries: n}, nil
	}
	return engine.RestartPolicy{}, fmt.Errorf("restart: %q is not one of no, always, on-failure[:N], unless-stopped", p)
}

// hostOptions applies dns, security_opt, group_add, extra_hosts, cap_add,
// cap_drop, tmpfs (all interpolated), the memory, CPU and pids limits, the
// OOM settings, devices, userns_mode and cgroup_parent.
func (t translator) hostOptions(c *engine.ContainerSpec) error {
	spec := t.spec
	res := t.res
	var err error
	list := func(field string, in []string) []string {
		if err != nil || len(in) == 0 {
			return nil
		}
		var out []string
		out, err = res.ExpandAll(field, in)
		return out
	}
	c.DNS = list("dns", spec.DNS)
	c.DNSSearch = list("dns_search", spec.DNSSearch)
	c.DNSOptions = list("dns_opt", spec.DNSOpt)
	c.SecurityOpt = list("security_opt", spec.SecurityOpt)
	c.GroupAdd = list("group_add", spec.GroupAdd)
	c.ExtraHosts = list("extra_hosts", spec.ExtraHosts)
	c.CapAdd = list("cap_add", spec.CapAdd)
	c.CapDrop = list("cap_drop", spec.CapDrop)
	tmpfs := list("tmpfs", spec.Tmpfs)
	if err != nil {
		return err
	}
	for _, t := range tmpfs {
		if c.Tmpfs == nil {
			c.Tmpfs = map[string]string{}
		}
		p, opts, _ := strings.Cut(t, ":")
		c.Tmpfs[p] = opts
	}
	if c.UsernsMode, err = res.Expand("userns_mode", spec.UsernsMode); err != nil {
		return err
	}
	if c.CgroupParent, err = res.Expand("cgroup_parent", spec.CgroupParent); err != nil {
		return err
	}
	c.Memory = spec.MemLimit
	c.MemReservation = spec.MemReservation
	c.MemSwap = spec.MemSwapLimit
	if spec.CPUs > 0 {
		c.NanoCPUs = int64(math.Round(spec.CPUs * 1e9))
	}
	c.CPUShares = spec.CPUShares
	c.PidsLimit = spec.PidsLimit
	c.OomKillDisable = spec.OomKillDisable
	c.OomScoreAdj = int(spec.OomScoreAdj)
	for i, d := range spec.Devices {
		field := fmt.Sprintf("devices[%d]", i)
		src, err := res.Expand(field, d.Source)
		if err != nil {
			return err
		}
		dst, err := res.Expand(field, d.Target)
		if err != nil {
			return err
		}
		if dst == "" {
			dst = src
		}
		perms := d.Permissions
		if perms == "" {
			perms = "rwm"
		}
		c.Devices = append(c.Devices, engine.Device{Source: src, Target: dst, Permissions: perms})
	}
	return nil
}

// portBindings publishes every declared container port on an ephemeral
// port of the engine's publish address (or the port's host_ip), unless
// fixed ports were asked for (first replica only: the others would
// collide).
func (t translator) portBindings() []engine.PortBinding {
	spec := t.spec
	if spec.NetworkMode == "host" || spec.NetworkMode == "none" || strings.HasPrefix(spec.NetworkMode, "service:") || strings.HasPrefix(spec.NetworkMode, "container:") {
		return nil
	}
	var out []engine.PortBinding
	for _, p := range spec.Ports {
		proto := p.Protocol
		if proto == "" {
			proto = "tcp"
		}
		b := engine.PortBinding{Port: p.Target, Protocol: proto, HostIP: t.in.PublishIP}
		if ip, err := t.res.Expand("ports.host_ip", p.HostIP); err == nil && ip != "" {
			b.HostIP = ip
		}
		switch hp, ok := t.in.Advertised[p.Target]; {
		case ok:
			b.HostPort = strconv.Itoa(hp)
		case t.in.FixedPorts && p.Published != "" && t.in.Number == 1:
			b.HostPort = p.Published
		}
		out = append(out, b)
	}
	return out
}

// namespaces applies pid, ipc and volumes_from; a service: reference
// becomes the other service's container (started before, see
// containerSpec).
func (t translator) namespaces(c *engine.ContainerSpec) error {
	container := func(field, name string) (string, error) {
		dep, ok := t.in.Containers[name]
		if !ok {
			return "", fmt.Errorf("%s: service %q is not part of this stack", field, name)
		}
		return dep.ID, nil
	}
	mode := func(field, m string) (string, error) {
		m, err := t.res.Expand(field, m)
		if err != nil {
			return "", err
		}
		if name, ok := strings.CutPrefix(m, "service:"); ok {
			id, err := container(field, name)
			return "container:" + id, err
		}
		return m, nil
	}
	var err error
	if c.PidMode, err = mode("pid", t.spec.Pid); err != nil {
		return err
	}
	if c.IpcMode, err = mode("ipc", t.spec.Ipc); err != nil {
		return err
	}
	for _, v := range t.spec.VolumesFrom {
		name, m, isService := volumesFromService(v)
		if !isService {
			c.VolumesFrom = append(c.VolumesFrom, strings.TrimPrefix(v, "container:"))
			continue
		}
		id, err := container("volumes_from", name)
		if err != nil {
			return err
		}
		if m != "" {
			id += ":" + m
		}
		c.VolumesFrom = append(c.VolumesFrom, id)
	}
	return nil
}

// networking sets the network mode or the networks to join, with the
// service's name, container_name and aliases as aliases.
func (t translator) networking(c *engine.ContainerSpec) error {
	mode, err := t.res.Expand("network_mode", t.spec.NetworkMode)
	if err != nil {
		return err
	}
	switch {
	case mode == "host" || mode == "none":
		c.NetworkMode = mode
		return nil
	case strings.HasPrefix(mode, "service:"):
		dep, ok := t.in.Containers[mode[len("service:"):]]
		if !ok {
			return fmt.Errorf("network_mode: service %q is not part of this stack", mode[len("service:"):])
		}
		c.NetworkMode = "container:" + dep.ID
		return nil
	case strings.HasPrefix(mode, "container:"):
		c.NetworkMode = mode
		return nil
	case mode != "" && mode != "bridge" && mode != "default":
		return fmt.Errorf("network_mode: %q is not supported (host, none, service:NAME, container:NAME)", mode)
	}
	nets := t.spec.Networks
	if len(nets) == 0 {
		nets = []composeplan.ServiceNetwork{{Network: "default"}}
	}
	containerName, err := t.res.Expand("container_name", t.spec.ContainerName)
	if err != nil {
		return err
	}
	for _, n := range nets {
		a := engine.Attachment{Network: t.in.Networks[n.Network], Aliases: []string{t.spec.Name}}
		if containerName != "" {
			a.Aliases = append(a.Aliases, containerName)
		}
		aliases, err := t.res.ExpandAll("networks."+n.Network+".aliases", n.Aliases)
		if err != nil {
			return err
		}
		a.Aliases = append(a.Aliases, aliases...)
		for _, l := range t.spec.Links {
			svc, alias, ok := strings.Cut(l, ":")
			if !ok {
				alias = svc
			}
			if dep, ok := t.in.Containers[svc]; ok {
				a.Links = append(a.Links, dep.Name+":"+alias)
			}
		}
		c.Networks = append(c.Networks, a)
	}
	return nil
}

// mount resolves a volume, bind or tmpfs mount.
func (t translator) mount(m composeplan.MountSpec) (engine.Mount, error) {
	src, err := t.res.Expand("source", m.Source)
	if err != nil {
		return engine.Mount{}, err
	}
	target, err := t.res.Expand("target", m.Target)
	if err != nil {
		return engine.Mount{}, err
	}
	em := engine.Mount{Type: m.Type, Target: target, ReadOnly: m.ReadOnly}
	switch m.Type {
	case "volume":
		if src != "" {
			name, ok := t.in.Volumes[src]
			if !ok {
				name = t.in.Project + "_" + src
			}
			em.Source = name
		}
	case "bind":
		if strings.HasPrefix(src, "~/") {
			src = filepath.Join(t.in.Home, src[2:])
		}
		if !filepath.IsAbs(src) {
			src = filepath.Join(t.in.Dir, filepath.FromSlash(src))
		}
		em.Source = src
	case "tmpfs":
	default:
		return em, fmt.Errorf("mount type %q is not supported", m.Type)
	}
	return em, nil
}

// graceSeconds rounds a stop grace period up to whole seconds, the unit of
// the engine's stop timeout.
func graceSeconds(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return (d + time.Second - 1) / time.Second * time.Second
}
