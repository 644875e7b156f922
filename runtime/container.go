package runtime

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/composegen/composegen/runtime/composeplan"
	docker "github.com/ory/dockertest/v3/docker"
)

// Labels set on every resource, compose's own plus composegen's.
const (
	labelProject    = "com.docker.compose.project"
	labelService    = "com.docker.compose.service"
	labelNetwork    = "com.docker.compose.network"
	labelVolume     = "com.docker.compose.volume"
	labelOneoff     = "com.docker.compose.oneoff"
	labelNumber     = "com.docker.compose.container-number"
	labelWorkingDir = "com.docker.compose.project.working_dir"
	labelManaged    = "io.composegen.managed"
	labelOwnerPID   = "io.composegen.owner.pid"
	labelOwnerHost  = "io.composegen.owner.host"
	labelOwnerStart = "io.composegen.owner.start"
)

func (s *Stack) labels(extra map[string]string) map[string]string {
	l := map[string]string{
		labelProject:    s.project,
		labelManaged:    "true",
		labelOwnerPID:   strconv.Itoa(os.Getpid()),
		labelOwnerHost:  ownerHost(),
		labelOwnerStart: ownerStart(),
	}
	for k, v := range extra {
		l[k] = v
	}
	return l
}

// createNetworksAndVolumes creates the stack's networks and named volumes
// concurrently.
func (s *Stack) createNetworksAndVolumes(ctx context.Context) error {
	needed := map[string]bool{}
	for _, svc := range s.order {
		if svc.spec.NetworkMode != "" {
			continue
		}
		if len(svc.spec.Networks) == 0 {
			needed["default"] = true
		}
		for _, n := range svc.spec.Networks {
			needed[n.Network] = true
		}
	}
	specs := map[string]composeplan.NetworkSpec{}
	for _, n := range s.plan.Networks {
		specs[n.Name] = n
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	do := func(f func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	for name := range needed {
		spec, declared := specs[name]
		if declared && spec.External {
			ext := spec.ExternalName
			if ext == "" {
				ext = name
			}
			s.networks[name] = ext
			continue
		}
		engName := s.project + "_" + name
		s.networks[name] = engName
		do(func() error {
			driver := spec.Driver
			if driver == "" {
				driver = "bridge"
			}
			opts, err := s.res.expandMap("networks."+name+".driver_opts", spec.DriverOpts)
			if err != nil {
				return err
			}
			cctx, cancel := creating(ctx) // never abandoned half-way: see creating
			defer cancel()
			_, err = s.eng.c.CreateNetwork(docker.CreateNetworkOptions{
				Name: engName, Driver: driver, Internal: spec.Internal, Options: anyMap(opts),
				Labels:  s.labels(mergeLabels(spec.Labels, map[string]string{labelNetwork: name})),
				Context: cctx,
			})
			if err != nil {
				return fmt.Errorf("create network %s: %w", engName, err)
			}
			return nil
		})
	}
	usedVolumes := map[string]bool{}
	for _, svc := range s.order {
		for _, m := range svc.spec.Mounts {
			if m.Type == "volume" && m.Source != "" {
				usedVolumes[m.Source] = true
			}
		}
	}
	for _, v := range s.plan.Volumes {
		if !usedVolumes[v.Name] {
			continue
		}
		if v.External {
			ext := v.ExternalName
			if ext == "" {
				ext = v.Name
			}
			s.volumes[v.Name] = ext
			continue
		}
		engName := s.project + "_" + v.Name
		s.volumes[v.Name] = engName
		do(func() error {
			opts, err := s.res.expandMap("volumes."+v.Name+".driver_opts", v.DriverOpts)
			if err != nil {
				return err
			}
			cctx, cancel := creating(ctx)
			defer cancel()
			_, err = s.eng.c.CreateVolume(docker.CreateVolumeOptions{
				Name: engName, Driver: v.Driver, DriverOpts: opts,
				Labels:  s.labels(mergeLabels(v.Labels, map[string]string{labelVolume: v.Name})),
				Context: cctx,
			})
			if err != nil {
				return fmt.Errorf("create volume %s: %w", engName, err)
			}
			return nil
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

func anyMap(m map[string]string) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func mergeLabels(a, b map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

// imageFlight makes concurrent stacks pull or build an image once.
var imageFlight struct {
	sync.Mutex
	m map[string]*imageCall
}

type imageCall struct {
	done chan struct{}
	err  error
}

// ensureImage makes the service's image available according to its pull
// policy and build section, and returns its reference.
func (s *Service) ensureImage(ctx context.Context) (string, error) {
	st := s.stack
	image, err := st.res.expand("image", s.spec.Image)
	if err != nil {
		return "", err
	}
	b := s.spec.Build
	if image == "" {
		if b == nil {
			return "", errors.New("no image and no build section")
		}
		image = normalizeProjectName(st.plan.Name) + "-" + s.spec.Name
	}
	policy := s.spec.PullPolicy
	present := func() bool {
		_, err := st.eng.c.InspectImage(image)
		return err == nil
	}
	var action string
	switch {
	case b != nil && policy == "build":
		action = "build"
	case b != nil && (policy == "" || policy == "missing" || policy == "if_not_present"):
		if !present() {
			action = "build"
		}
	case policy == "always":
		action = "pull"
	case policy == "never":
		if !present() {
			return "", fmt.Errorf("image %s is not present and pull_policy is never", image)
		}
	default:
		if !present() {
			action = "pull"
		}
	}
	if action == "" {
		return image, nil
	}
	key := action + " " + image
	imageFlight.Lock()
	if imageFlight.m == nil {
		imageFlight.m = map[string]*imageCall{}
	}
	c, ok := imageFlight.m[key]
	if !ok {
		c = &imageCall{done: make(chan struct{})}
		imageFlight.m[key] = c
		imageFlight.Unlock()
		if action == "build" {
			c.err = s.build(ctx, image)
		} else {
			c.err = s.pull(ctx, image)
		}
		imageFlight.Lock()
		delete(imageFlight.m, key)
		close(c.done)
	}
	imageFlight.Unlock()
	select {
	case <-c.done:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	return image, c.err
}

func (s *Service) pull(ctx context.Context, image string) error {
	repo, tag := splitImage(image)
	var out bytes.Buffer
	err := s.stack.eng.c.PullImage(docker.PullImageOptions{
		Repository: repo, Tag: tag, Platform: s.spec.Platform,
		OutputStream: &out, Context: ctx,
	}, docker.AuthConfiguration{})
	if err != nil {
		hint := "is the image name right, and can the engine reach its registry?"
		if s.spec.PullPolicy == "always" {
			hint = "pull_policy is always, so the image is pulled even when present; use pull_policy: missing to run a local image without a registry"
		}
		return fmt.Errorf("pull image %s: %w (%s)", image, err, hint)
	}
	return nil
}

func (s *Service) build(ctx context.Context, image string) error {
	b := s.spec.Build
	st := s.stack
	dir := filepath.Join(st.dir, filepath.FromSlash(b.Context))
	var args []docker.BuildArg
	for _, k := range sortedKeys(b.Args) {
		v, err := st.res.expand("build.args."+k, b.Args[k])
		if err != nil {
			return err
		}
		args = append(args, docker.BuildArg{Name: k, Value: v})
	}
	var out bytes.Buffer
	err := st.eng.c.BuildImage(docker.BuildImageOptions{
		Name: image, Dockerfile: b.Dockerfile, ContextDir: dir, BuildArgs: args, Target: b.Target,
		Platform: s.spec.Platform, RmTmpContainer: true, ForceRmTmpContainer: true, OutputStream: &out, Context: ctx,
		Labels: map[string]string{labelManaged: "true", labelService: s.spec.Name},
	})
	if err != nil {
		return fmt.Errorf("build image %s from %s: %w\nbuild output (last lines):\n%s", image, dir, err, lastLines(out.String(), 30))
	}
	return nil
}

// graceSeconds rounds a stop grace period up to whole seconds, the unit of
// the engine's stop timeout.
func graceSeconds(d time.Duration) uint {
	if d <= 0 {
		return 0
	}
	return uint((d + time.Second - 1) / time.Second)
}

// checkPlatform refuses to run an image built for another platform than the
// service's platform: field asks for (the engine would run it, emulated or
// failing with "exec format error").
func (s *Service) checkPlatform(image string) error {
	want, err := s.stack.res.expand("platform", s.spec.Platform)
	if err != nil || want == "" {
		return err
	}
	img, err := s.stack.eng.c.InspectImage(image)
	if err != nil {
		return nil // the create reports it
	}
	wantOS, wantArch, _ := strings.Cut(want, "/")
	wantArch, _, _ = strings.Cut(wantArch, "/") // variants are not compared
	if wantOS != img.OS || (wantArch != "" && wantArch != img.Architecture) {
		return fmt.Errorf("platform: image %s is %s/%s, not %s (pull or build it for %s, or remove platform:)", image, img.OS, img.Architecture, want, want)
	}
	return nil
}

func splitImage(image string) (repo, tag string) {
	if i := strings.LastIndexByte(image, '@'); i >= 0 {
		return image[:i], image[i+1:]
	}
	slash := strings.LastIndexByte(image, '/')
	if i := strings.LastIndexByte(image, ':'); i > slash {
		return image[:i], image[i+1:]
	}
	return image, "latest"
}

// create creates the service's container with everything the plan says.
func (s *Service) create(ctx context.Context) error {
	st := s.stack
	spec := s.spec
	image, err := s.ensureImage(ctx)
	if err != nil {
		return err
	}
	if err := s.checkPlatform(image); err != nil {
		return err
	}
	r := st.res
	cmd, err := r.expandAll("command", spec.Command)
	if err != nil {
		return err
	}
	advertised, err := s.allocateAdvertised()
	if err != nil {
		return err
	}
	cmd = rewriteAdvertised(cmd, "command", spec.Ports, advertised)
	entrypoint, err := r.expandAll("entrypoint", spec.Entrypoint)
	if err != nil {
		return err
	}
	labels := map[string]string{}
	for k, v := range spec.Labels {
		if labels[k], err = r.expand("labels."+k, v); err != nil {
			return err
		}
	}
	labels[labelService] = spec.Name
	labels[labelOneoff] = "False"
	labels[labelNumber] = "1"
	labels[labelWorkingDir] = st.dir
	str := func(field, v string) string {
		if err != nil {
			return ""
		}
		var out string
		out, err = r.expand(field, v)
		return out
	}
	cfg := &docker.Config{
		Image:      image,
		Env:        envList(s.env),
		Cmd:        cmd,
		Entrypoint: entrypoint,
		Labels:     st.labels(labels),
		Hostname:   str("hostname", spec.Hostname),
		User:       str("user", spec.User),
		WorkingDir: str("working_dir", spec.WorkingDir),
		Tty:        spec.Tty,
		OpenStdin:  spec.StdinOpen,
		StopSignal: spec.StopSignal,
	}
	if err != nil {
		return err
	}
	if spec.StopGracePeriod != nil {
		// The engine counts whole seconds; 0 would mean its default (10s).
		cfg.StopTimeout = max(1, int(graceSeconds(*spec.StopGracePeriod)))
	}
	if hc := spec.Healthcheck; hc != nil {
		cfg.Healthcheck = &docker.HealthConfig{Test: hc.Test, Interval: hc.Interval, Timeout: hc.Timeout, StartPeriod: hc.StartPeriod, Retries: hc.Retries}
		if hc.Disable {
			cfg.Healthcheck = &docker.HealthConfig{Test: []string{"NONE"}}
		}
	}
	hostCfg := &docker.HostConfig{
		Privileged:     spec.Privileged,
		ShmSize:        spec.ShmSize,
		Sysctls:        spec.Sysctls,
		ReadonlyRootfs: spec.ReadOnly,
	}
	if spec.Init != nil {
		hostCfg.Init = *spec.Init
	}
	if err := s.resources(hostCfg); err != nil {
		return err
	}
	for _, u := range spec.Ulimits {
		hostCfg.Ulimits = append(hostCfg.Ulimits, docker.ULimit{Name: u.Name, Soft: u.Soft, Hard: u.Hard})
	}
	switch p := spec.Restart; {
	case p == "always" || p == "unless-stopped":
		hostCfg.RestartPolicy = docker.RestartPolicy{Name: p}
	case strings.HasPrefix(p, "on-failure"):
		n, _ := strconv.Atoi(strings.TrimPrefix(strings.TrimPrefix(p, "on-failure"), ":"))
		hostCfg.RestartPolicy = docker.RestartPolicy{Name: "on-failure", MaximumRetryCount: n}
	}
	for _, t := range spec.Tmpfs {
		if hostCfg.Tmpfs == nil {
			hostCfg.Tmpfs = map[string]string{}
		}
		path, opts, _ := strings.Cut(t, ":")
		hostCfg.Tmpfs[path] = opts
	}
	for i, m := range spec.Mounts {
		hm, err := s.mount(m)
		if err != nil {
			return fmt.Errorf("volumes[%d]: %w", i, err)
		}
		hostCfg.Mounts = append(hostCfg.Mounts, hm)
	}
	if err := s.fileMounts(hostCfg); err != nil {
		return err
	}

	// Ports: every declared container port on an ephemeral loopback port,
	// unless fixed ports were asked for.
	if spec.NetworkMode != "host" && spec.NetworkMode != "none" && !strings.HasPrefix(spec.NetworkMode, "service:") {
		cfg.ExposedPorts = map[docker.Port]struct{}{}
		hostCfg.PortBindings = map[docker.Port][]docker.PortBinding{}
		for _, p := range spec.Ports {
			proto := p.Protocol
			if proto == "" {
				proto = "tcp"
			}
			key := docker.Port(fmt.Sprintf("%d/%s", p.Target, proto))
			cfg.ExposedPorts[key] = struct{}{}
			b := docker.PortBinding{HostIP: "127.0.0.1"}
			if st.eng.remote {
				b.HostIP = ""
			}
			if p.HostIP != "" {
				b.HostIP = p.HostIP
			}
			if st.cfg.fixedPorts && p.Published != "" {
				b.HostPort = p.Published
			} else if hp, ok := advertised[p.Target]; ok {
				b.HostPort = strconv.Itoa(hp)
			}
			hostCfg.PortBindings[key] = []docker.PortBinding{b}
		}
	}

	// links, volumes_from, pid and ipc name containers: those must be
	// started first (compose-go adds them to depends_on; a hand-written
	// plan may not).
	for _, ref := range containerRefs(spec) {
		if dep := st.services[ref.service]; dep != nil && dep != s {
			if err := s.waitFor(ctx, composeplan.Dependency{Service: ref.service, Condition: "service_started"}, dep); err != nil {
				return fmt.Errorf("%s: %w", ref.field, err)
			}
		}
	}
	if err := s.namespaces(hostCfg); err != nil {
		return err
	}

	// Networks: the first at create, the others connected before start.
	var netCfg *docker.NetworkingConfig
	var extra []composeplan.ServiceNetwork
	switch mode := spec.NetworkMode; {
	case mode == "host" || mode == "none":
		hostCfg.NetworkMode = mode
	case strings.HasPrefix(mode, "service:"):
		dep := st.services[mode[len("service:"):]]
		if dep == nil {
			return fmt.Errorf("network_mode: service %q is not part of this stack", mode[len("service:"):])
		}
		hostCfg.NetworkMode = "container:" + dep.ContainerID()
	case strings.HasPrefix(mode, "container:"):
		hostCfg.NetworkMode = mode
	default:
		nets := spec.Networks
		if len(nets) == 0 {
			nets = []composeplan.ServiceNetwork{{Network: "default"}}
		}
		hostCfg.NetworkMode = st.networks[nets[0].Network]
		netCfg = &docker.NetworkingConfig{EndpointsConfig: map[string]*docker.EndpointConfig{
			st.networks[nets[0].Network]: s.endpoint(nets[0]),
		}}
		extra = nets[1:]
	}

	name := st.project + "-" + spec.Name + "-1"
	s.mu.Lock()
	s.name = name
	s.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	cctx, cancel := creating(ctx) // never abandoned half-way: see creating
	defer cancel()
	c, err := st.eng.c.CreateContainer(docker.CreateContainerOptions{
		Name: name, Config: cfg, HostConfig: hostCfg, NetworkingConfig: netCfg, Context: cctx,
	})
	if err != nil {
		return fmt.Errorf("create container: %w", err)
	}
	s.mu.Lock()
	s.id = c.ID
	s.tCreated = time.Now()
	s.mu.Unlock()
	for _, n := range extra {
		err := st.eng.c.ConnectNetwork(st.networks[n.Network], docker.NetworkConnectionOptions{
			Container: c.ID, EndpointConfig: s.endpoint(n), Context: ctx,
		})
		if err != nil {
			return fmt.Errorf("connect to network %s: %w", n.Network, err)
		}
	}
	return nil
}

// resources applies dns, security_opt, group_add, extra_hosts, cap_add,
// cap_drop (all interpolated), the memory, CPU and pids
// limits, the OOM settings, devices, userns_mode and cgroup_parent.
func (s *Service) resources(hc *docker.HostConfig) error {
	spec := s.spec
	r := s.stack.res
	var err error
	list := func(field string, in []string) []string {
		if err != nil || len(in) == 0 {
			return nil
		}
		var out []string
		out, err = r.expandAll(field, in)
		return out
	}
	hc.DNS = list("dns", spec.DNS)
	hc.DNSSearch = list("dns_search", spec.DNSSearch)
	hc.DNSOptions = list("dns_opt", spec.DNSOpt)
	hc.SecurityOpt = list("security_opt", spec.SecurityOpt)
	hc.GroupAdd = list("group_add", spec.GroupAdd)
	hc.ExtraHosts = list("extra_hosts", spec.ExtraHosts)
	hc.CapAdd = list("cap_add", spec.CapAdd)
	hc.CapDrop = list("cap_drop", spec.CapDrop)
	if err != nil {
		return err
	}
	if hc.UsernsMode, err = r.expand("userns_mode", spec.UsernsMode); err != nil {
		return err
	}
	if hc.CgroupParent, err = r.expand("cgroup_parent", spec.CgroupParent); err != nil {
		return err
	}
	hc.Memory = spec.MemLimit
	hc.MemoryReservation = spec.MemReservation
	hc.MemorySwap = spec.MemSwapLimit
	if spec.CPUs > 0 {
		// What the engine makes of --cpus: a quota per 100ms period.
		hc.CPUPeriod = 100000
		hc.CPUQuota = int64(math.Round(spec.CPUs * 100000))
	}
	hc.CPUShares = spec.CPUShares
	hc.PidsLimit = spec.PidsLimit
	hc.OOMKillDisable = spec.OomKillDisable
	hc.OomScoreAdj = int(spec.OomScoreAdj)
	for i, d := range spec.Devices {
		field := fmt.Sprintf("devices[%d]", i)
		src, err := r.expand(field, d.Source)
		if err != nil {
			return err
		}
		dst, err := r.expand(field, d.Target)
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
		hc.Devices = append(hc.Devices, docker.Device{PathOnHost: src, PathInContainer: dst, CgroupPermissions: perms})
	}
	return nil
}

// namespaces applies pid, ipc and volumes_from; a service: reference
// becomes the other service's container (started before, see create).
func (s *Service) namespaces(hc *docker.HostConfig) error {
	st := s.stack
	container := func(field, name string) (string, error) {
		dep := st.services[name]
		if dep == nil || dep.ContainerID() == "" {
			return "", fmt.Errorf("%s: service %q is not part of this stack", field, name)
		}
		return dep.ContainerID(), nil
	}
	mode := func(field, m string) (string, error) {
		if name, ok := strings.CutPrefix(m, "service:"); ok {
			id, err := container(field, name)
			return "container:" + id, err
		}
		return m, nil
	}
	var err error
	if hc.PidMode, err = mode("pid", s.spec.Pid); err != nil {
		return err
	}
	if hc.IpcMode, err = mode("ipc", s.spec.Ipc); err != nil {
		return err
	}
	for _, v := range s.spec.VolumesFrom {
		name, m, isService := volumesFromService(v)
		if !isService {
			hc.VolumesFrom = append(hc.VolumesFrom, strings.TrimPrefix(v, "container:"))
			continue
		}
		id, err := container("volumes_from", name)
		if err != nil {
			return err
		}
		if m != "" {
			id += ":" + m
		}
		hc.VolumesFrom = append(hc.VolumesFrom, id)
	}
	return nil
}

func (s *Service) endpoint(n composeplan.ServiceNetwork) *docker.EndpointConfig {
	aliases := []string{s.spec.Name}
	if s.spec.ContainerName != "" {
		aliases = append(aliases, s.spec.ContainerName)
	}
	aliases = append(aliases, n.Aliases...)
	ep := &docker.EndpointConfig{Aliases: aliases}
	for _, l := range s.spec.Links {
		svc, alias, ok := strings.Cut(l, ":")
		if !ok {
			alias = svc
		}
		if dep := s.stack.services[svc]; dep != nil {
			ep.Links = append(ep.Links, dep.ContainerName()+":"+alias)
		}
	}
	return ep
}

func (s *Service) mount(m composeplan.MountSpec) (docker.HostMount, error) {
	st := s.stack
	src, err := st.res.expand("source", m.Source)
	if err != nil {
		return docker.HostMount{}, err
	}
	hm := docker.HostMount{Type: m.Type, Target: m.Target, ReadOnly: m.ReadOnly}
	switch m.Type {
	case "volume":
		if src != "" {
			name, ok := st.volumes[src]
			if !ok {
				name = st.project + "_" + src
			}
			hm.Source = name
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
			return hm, fmt.Errorf("bind mount source %s: %w", src, err)
		}
		hm.Source = src
	case "tmpfs":
	default:
		return hm, fmt.Errorf("mount type %q is not supported", m.Type)
	}
	return hm, nil
}

// fileMounts mounts secrets (at /run/secrets/NAME) and configs (at their
// target, default /NAME) from files, read-only.
func (s *Service) fileMounts(hc *docker.HostConfig) error {
	st := s.stack
	find := func(list []composeplan.FileSpec, name string) *composeplan.FileSpec {
		for i := range list {
			if list[i].Name == name {
				return &list[i]
			}
		}
		return nil
	}
	add := func(kind string, ref composeplan.FileRef, spec *composeplan.FileSpec, defTarget string) error {
		if spec == nil {
			return fmt.Errorf("%s %q is not declared at the top level", kind, ref.Source)
		}
		target := ref.Target
		if target == "" {
			target = defTarget
		} else if kind == "secret" && !strings.HasPrefix(target, "/") {
			target = "/run/secrets/" + target
		}
		var src string
		switch {
		case spec.File != "":
			src = filepath.Join(st.dir, filepath.FromSlash(spec.File))
			if filepath.IsAbs(spec.File) {
				src = spec.File
			}
		case spec.Environment != "" || spec.Content != "":
			content := spec.Content
			if spec.Environment != "" {
				content, _ = st.res.lookup(spec.Environment)
			} else {
				var err error
				if content, err = st.res.expand(kind+"s."+spec.Name+".content", content); err != nil {
					return err
				}
			}
			f, err := os.CreateTemp("", "composegen-"+kind+"-*")
			if err != nil {
				return err
			}
			_, _ = f.WriteString(content)
			f.Close()
			_ = os.Chmod(f.Name(), 0o644)
			st.addTempFile(f.Name())
			src = f.Name()
		default:
			return fmt.Errorf("%s %q: only file, environment and content sources are supported", kind, spec.Name)
		}
		if _, err := os.Stat(src); err != nil {
			return fmt.Errorf("%s %q: %w", kind, spec.Name, err)
		}
		if ref.Mode != nil || ref.UID != "" || ref.GID != "" {
			var err error
			if src, err = s.ownedCopy(kind, src, ref); err != nil {
				return fmt.Errorf("%s %q: %w", kind, spec.Name, err)
			}
		}
		hc.Mounts = append(hc.Mounts, docker.HostMount{Type: "bind", Source: src, Target: target, ReadOnly: true})
		return nil
	}
	for _, r := range s.spec.Secrets {
		if err := add("secret", r, find(st.plan.Secrets, r.Source), "/run/secrets/"+r.Source); err != nil {
			return err
		}
	}
	for _, r := range s.spec.Configs {
		if err := add("config", r, find(st.plan.Configs, r.Source), "/"+r.Source); err != nil {
			return err
		}
	}
	return nil
}

// ownedCopy copies a secret or config to a temporary file with the mode,
// uid and gid that ref asks for (default 0444, and the source's owner), so
// that the bind mount shows them in the container (the engine does not
// remap bind mounts). Setting another uid or gid needs the test process to
// be allowed to chown (root).
func (s *Service) ownedCopy(kind, src string, ref composeplan.FileRef) (string, error) {
	r := s.stack.res
	data, err := os.ReadFile(src)
	if err != nil {
		return "", err
	}
	mode := os.FileMode(0o444)
	if ref.Mode != nil {
		mode = os.FileMode(*ref.Mode) & os.ModePerm
	}
	id := func(field, v string) (int, error) {
		v, err := r.expand(field, v)
		if err != nil || v == "" {
			return -1, err
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return -1, fmt.Errorf("%s %q is not a numeric id", field, v)
		}
		return n, nil
	}
	uid, err := id("uid", ref.UID)
	if err != nil {
		return "", err
	}
	gid, err := id("gid", ref.GID)
	if err != nil {
		return "", err
	}
	f, err := os.CreateTemp("", "composegen-"+kind+"-*")
	if err != nil {
		return "", err
	}
	s.stack.addTempFile(f.Name())
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", err
	}
	if uid >= 0 || gid >= 0 {
		if err := os.Chown(f.Name(), uid, gid); err != nil {
			return "", fmt.Errorf("uid/gid: %w (setting a file's owner needs the tests to run as root)", err)
		}
	}
	if err := os.Chmod(f.Name(), mode); err != nil {
		return "", err
	}
	return f.Name(), nil
}

// start starts the container and reads its published ports.
func (s *Service) start(ctx context.Context) error {
	c := s.stack.eng.c
	if err := c.StartContainerWithContext(s.ContainerID(), nil, ctx); err != nil {
		return fmt.Errorf("start container: %w", err)
	}
	s.mu.Lock()
	s.tStarted = time.Now()
	s.mu.Unlock()
	// Watch for the exit before anything else: a one-shot may be done
	// already, and its dependents wait for exactly that.
	go s.watchExit()
	return s.readPorts(ctx)
}

func (s *Service) readPorts(ctx context.Context) error {
	info, err := s.stack.eng.c.InspectContainerWithContext(s.ContainerID(), ctx)
	if err != nil {
		return fmt.Errorf("inspect container: %w", err)
	}
	ports := map[portKey]int{}
	if info.NetworkSettings != nil {
		for p, bindings := range info.NetworkSettings.Ports {
			for _, b := range bindings {
				hp, err := strconv.Atoi(b.HostPort)
				if err != nil || hp == 0 {
					continue
				}
				num, _ := strconv.Atoi(p.Port())
				ports[portKey{num, p.Proto()}] = hp
				break
			}
		}
	}
	s.mu.Lock()
	s.ports = ports
	if info.State.Pid > 0 {
		s.pid = info.State.Pid
	}
	s.mu.Unlock()
	return nil
}

// watchExit records the container's exit while the stack lives. An exit
// during Up is what service_completed_successfully waits for, and a
// non-zero one fails the start at once.
func (s *Service) watchExit() {
	code, err := s.stack.eng.c.WaitContainerWithContext(s.ContainerID(), s.stack.life)
	if err != nil {
		return
	}
	s.mu.Lock()
	s.exitCode = code
	s.mu.Unlock()
	select {
	case <-s.exitedCh:
	default:
		close(s.exitedCh)
	}
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sortStrings(keys)
	return keys
}
