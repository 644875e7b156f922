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
	spec, err := r.containerSpec(ctx, image)
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

// containerSpec resolves the plan's service into the container to create.
func (r *replica) containerSpec(ctx context.Context, image string) (engine.ContainerSpec, error) {
	st := r.stack
	spec := r.spec
	res := st.res
	c := engine.ContainerSpec{
		Name:    st.project + "-" + spec.Name + "-" + strconv.Itoa(r.number),
		Project: st.project, Service: spec.Name, Number: r.number,
		Image: image, Tty: spec.Tty, OpenStdin: spec.StdinOpen, StopSignal: spec.StopSignal,
		Init: spec.Init, Privileged: spec.Privileged, ReadOnly: spec.ReadOnly, ShmSize: spec.ShmSize,
		Sysctls: spec.Sysctls, Platform: spec.Platform,
	}
	var err error
	if c.PullPolicy, err = res.Expand("pull_policy", spec.PullPolicy); err != nil {
		return c, err
	}
	if c.Cmd, err = res.ExpandAll("command", spec.Command); err != nil {
		return c, err
	}
	advertised, err := r.allocateAdvertised()
	if err != nil {
		return c, err
	}
	c.Cmd = rewriteAdvertised(c.Cmd, "command", spec.Ports, advertised)
	if c.Entrypoint, err = res.ExpandAll("entrypoint", spec.Entrypoint); err != nil {
		return c, err
	}
	st.mask.AddArgs(c.Cmd)
	st.mask.AddArgs(c.Entrypoint)
	c.Env = interp.List(r.env)
	if c.Labels, err = r.containerLabels(); err != nil {
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
	if err := r.hostOptions(&c); err != nil {
		return c, err
	}
	if err := r.mounts(&c); err != nil {
		return c, err
	}
	c.Ports = r.portBindings(advertised)
	// links, volumes_from, pid and ipc name containers: those must be
	// started first (compose-go adds them to depends_on; a hand-written
	// plan may not).
	for _, ref := range containerRefs(spec) {
		if dep := st.units[ref.service]; dep != nil && dep != r.unit {
			if err := r.waitFor(ctx, composeplan.Dependency{Service: ref.service, Condition: "service_started"}, dep); err != nil {
				return c, fmt.Errorf("%s: %w", ref.field, err)
			}
		}
	}
	if err := r.namespaces(&c); err != nil {
		return c, err
	}
	return c, r.networking(&c)
}

// containerLabels are the service's labels (interpolated) plus compose's
// and the stack's.
func (r *replica) containerLabels() (map[string]string, error) {
	labels := map[string]string{}
	for k, v := range r.spec.Labels {
		x, err := r.stack.res.Expand("labels."+k, v)
		if err != nil {
			return nil, err
		}
		labels[k] = x
	}
	labels[label.Service] = r.spec.Name
	labels[label.Oneoff] = "False"
	labels[label.Number] = strconv.Itoa(r.number)
	labels[label.WorkingDir] = r.stack.dir
	return r.stack.labels(labels), nil
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
func (r *replica) hostOptions(c *engine.ContainerSpec) error {
	spec := r.spec
	res := r.stack.res
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
func (r *replica) portBindings(advertised map[int]int) []engine.PortBinding {
	spec := r.spec
	if spec.NetworkMode == "host" || spec.NetworkMode == "none" || strings.HasPrefix(spec.NetworkMode, "service:") || strings.HasPrefix(spec.NetworkMode, "container:") {
		return nil
	}
	var out []engine.PortBinding
	for _, p := range spec.Ports {
		proto := p.Protocol
		if proto == "" {
			proto = "tcp"
		}
		b := engine.PortBinding{Port: p.Target, Protocol: proto, HostIP: r.stack.info.PublishIP}
		if ip, err := r.stack.res.Expand("ports.host_ip", p.HostIP); err == nil && ip != "" {
			b.HostIP = ip
		}
		switch hp, ok := advertised[p.Target]; {
		case ok:
			b.HostPort = strconv.Itoa(hp)
		case r.stack.cfg.fixedPorts && p.Published != "" && r.number == 1:
			b.HostPort = p.Published
		}
		out = append(out, b)
	}
	return out
}

// namespaces applies pid, ipc and volumes_from; a service: reference
// becomes the other service's container (started before, see
// containerSpec).
func (r *replica) namespaces(c *engine.ContainerSpec) error {
	st := r.stack
	container := func(field, name string) (string, error) {
		dep := st.units[name]
		if dep == nil || dep.replicas[0].ContainerID() == "" {
			return "", fmt.Errorf("%s: service %q is not part of this stack", field, name)
		}
		return dep.replicas[0].ContainerID(), nil
	}
	mode := func(field, m string) (string, error) {
		m, err := st.res.Expand(field, m)
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
	if c.PidMode, err = mode("pid", r.spec.Pid); err != nil {
		return err
	}
	if c.IpcMode, err = mode("ipc", r.spec.Ipc); err != nil {
		return err
	}
	for _, v := range r.spec.VolumesFrom {
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
func (r *replica) networking(c *engine.ContainerSpec) error {
	st := r.stack
	mode, err := st.res.Expand("network_mode", r.spec.NetworkMode)
	if err != nil {
		return err
	}
	switch {
	case mode == "host" || mode == "none":
		c.NetworkMode = mode
		return nil
	case strings.HasPrefix(mode, "service:"):
		dep := st.units[mode[len("service:"):]]
		if dep == nil {
			return fmt.Errorf("network_mode: service %q is not part of this stack", mode[len("service:"):])
		}
		c.NetworkMode = "container:" + dep.replicas[0].ContainerID()
		return nil
	case strings.HasPrefix(mode, "container:"):
		c.NetworkMode = mode
		return nil
	case mode != "" && mode != "bridge" && mode != "default":
		return fmt.Errorf("network_mode: %q is not supported (host, none, service:NAME, container:NAME)", mode)
	}
	nets := r.spec.Networks
	if len(nets) == 0 {
		nets = []composeplan.ServiceNetwork{{Network: "default"}}
	}
	containerName, err := st.res.Expand("container_name", r.spec.ContainerName)
	if err != nil {
		return err
	}
	for _, n := range nets {
		a := engine.Attachment{Network: st.networks[n.Network], Aliases: []string{r.spec.Name}}
		if containerName != "" {
			a.Aliases = append(a.Aliases, containerName)
		}
		aliases, err := st.res.ExpandAll("networks."+n.Network+".aliases", n.Aliases)
		if err != nil {
			return err
		}
		a.Aliases = append(a.Aliases, aliases...)
		for _, l := range r.spec.Links {
			svc, alias, ok := strings.Cut(l, ":")
			if !ok {
				alias = svc
			}
			if dep := st.units[svc]; dep != nil {
				a.Links = append(a.Links, dep.replicas[0].ContainerName()+":"+alias)
			}
		}
		c.Networks = append(c.Networks, a)
	}
	return nil
}

// mounts resolves volumes, bind mounts, secrets and configs.
func (r *replica) mounts(c *engine.ContainerSpec) error {
	for i, m := range r.spec.Mounts {
		em, err := r.mount(m)
		if err != nil {
			return fmt.Errorf("volumes[%d]: %w", i, err)
		}
		c.Mounts = append(c.Mounts, em)
	}
	return r.fileMounts(c)
}

func (r *replica) mount(m composeplan.MountSpec) (engine.Mount, error) {
	st := r.stack
	src, err := st.res.Expand("source", m.Source)
	if err != nil {
		return engine.Mount{}, err
	}
	target, err := st.res.Expand("target", m.Target)
	if err != nil {
		return engine.Mount{}, err
	}
	em := engine.Mount{Type: m.Type, Target: target, ReadOnly: m.ReadOnly}
	switch m.Type {
	case "volume":
		if src != "" {
			name, ok := st.volumes[src]
			if !ok {
				name = st.project + "_" + src
			}
			em.Source = name
		}
	case "bind":
		if strings.HasPrefix(src, "~/") {
			home, _ := os.UserHomeDir()
			src = filepath.Join(home, src[2:])
		}
		if !filepath.IsAbs(src) {
			src = filepath.Join(st.dir, filepath.FromSlash(src))
		}
		if _, err := os.Stat(src); err != nil {
			return em, fmt.Errorf("bind mount source %s: %w", src, err)
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
