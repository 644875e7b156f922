package model

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"gopkg.in/yaml.v3"

	"github.com/composegen/composegen/cmd/composegen/internal/load"
	"github.com/composegen/composegen/cmd/composegen/internal/naming"
	"github.com/composegen/composegen/runtime/composeplan"
	"github.com/composegen/composegen/templates"
)

// BuildOptions configure Build.
type BuildOptions struct {
	// OutDir is the directory of the generated file. Plan.Dir, Plan.Files
	// and Sources are relative to it. Default: the project directory.
	OutDir string
	// Package is the Go package name of the generated file.
	Package string
	// Flags are the command-line settings that affect the output (project
	// name, profiles, package...), hashed into InputHash.
	Flags []string
}

// ReservedNames are the top-level identifiers of the generated file that a
// service's Go name must not take; a service whose name maps to one gets the
// suffix "Service" ("stack" → StackService).
var ReservedNames = map[string]bool{
	"Stack": true, "Start": true, "Up": true, "Down": true, "Plan": true,
	"Option": true, "Options": true, "New": true, "Service": true, "Port": true,
	"Env": true, "Main": true, "Init": true, "Test": true,
}

// ReservedMethods are the method names of generated service types other than
// ports and accessors; a port or accessor may not take them.
var ReservedMethods = map[string]bool{
	"Env": true, "Name": true, "Service": true, "Host": true, "InternalAddr": true,
	"Healthcheck": true, "Port": true, "Ports": true, "Runtime": true, "String": true,
	"Logs": true, "Exec": true, "Stop": true, "Start": true, "Restart": true,
	"Container": true, "ContainerID": true, "Image": true, "Kind": true,
}

// ExtensionKey is the compose service extension read by composegen.
const ExtensionKey = "x-composegen"

// BuildError is a problem of one service that makes the model impossible.
type BuildError struct {
	File    string // relative to the working directory, "" when unknown
	Line    int
	Column  int
	Service string
	Field   string
	Message string
}

func (e *BuildError) Error() string {
	w := Warning{File: e.File, Line: e.Line, Service: e.Service, Field: e.Field, Message: e.Message}
	if e.Column > 0 && e.File != "" && e.Line > 0 {
		// file:line:col
		s := w.String()
		prefix := e.File + ":" + strconv.Itoa(e.Line)
		return prefix + ":" + strconv.Itoa(e.Column) + strings.TrimPrefix(s, prefix)
	}
	return w.String()
}

type builder struct {
	r       *load.Result
	opts    BuildOptions
	outDir  string
	rootDir string
	wd      string
	p       *Project
	errs    []error
}

// Build turns a loaded compose project into the model. Strings keep their
// variable expressions (no value of the generating environment is used,
// except in the structural fields load reports); services, environment and
// every map-derived list are sorted.
func Build(r *load.Result, opts BuildOptions) (*Project, error) {
	if r == nil || r.Project == nil {
		return nil, errors.New("model: nothing loaded")
	}
	b := &builder{r: r, opts: opts, p: &Project{Package: opts.Package}}
	b.wd, _ = os.Getwd()
	b.outDir = opts.OutDir
	if b.outDir == "" {
		b.outDir = r.ProjectDir
	}
	if abs, err := filepath.Abs(b.outDir); err == nil {
		b.outDir = abs
	}
	b.rootDir = moduleRoot(b.outDir)

	for _, w := range r.Warnings {
		b.p.Warnings = append(b.p.Warnings, Warning{
			File: b.display(w.Pos.File), Line: w.Pos.Line, Service: w.Service, Field: w.Field, Message: w.Message,
		})
	}

	plan := &b.p.Plan
	plan.Name = r.Project.Name
	plan.Dir = slashRel(b.outDir, r.ProjectDir)
	for _, f := range r.Files {
		plan.Files = append(plan.Files, slashRel(b.outDir, f))
	}
	b.p.Sources = append(b.p.Sources, plan.Files...)
	for _, f := range r.EnvFiles {
		plan.EnvFiles = append(plan.EnvFiles, composeplan.EnvFile{Path: b.path(f), Required: !r.DefaultEnvFile})
		b.p.Sources = append(b.p.Sources, slashRel(b.outDir, f))
	}
	if len(r.EnvFiles) == 0 {
		// The runtime reads the project's .env at start when it exists.
		plan.EnvFiles = []composeplan.EnvFile{{Path: ".env"}}
	}
	plan.Profiles = append([]string(nil), r.Profiles...)
	b.checkProfiles()

	names := r.Project.ServiceNames()
	goNames, err := naming.Assign(names, func(s string) string { return naming.Exported(s, "S") }, func(id string) bool {
		if ReservedNames[id] {
			return true
		}
		// Start<Name> functions: a service must not be named like another
		// service's constructor.
		if rest, ok := strings.CutPrefix(id, "Start"); ok && rest != "" {
			for _, n := range names {
				if naming.Exported(n, "S") == rest {
					return true
				}
			}
		}
		return false
	}, "Service")
	if err != nil {
		return nil, err
	}
	for _, name := range names {
		svc := r.Project.Services[name]
		spec, ms := b.service(svc, goNames[name])
		plan.Services = append(plan.Services, spec)
		b.p.Services = append(b.p.Services, ms)
	}
	b.resources()
	b.p.InputHash = b.hash()

	if len(b.errs) > 0 {
		return nil, errors.Join(b.errs...)
	}
	if leak := findTokens(b.p); leak != "" {
		return nil, fmt.Errorf("internal error: unresolved variable token in %s", leak)
	}
	return b.p, nil
}

// moduleRoot returns the nearest ancestor of dir holding go.mod or .git,
// else dir. Paths inside it are written relative; paths outside are
// machine-specific and written as in the compose file.
func moduleRoot(dir string) string {
	for d := dir; ; {
		for _, m := range []string{"go.mod", ".git"} {
			if _, err := os.Stat(filepath.Join(d, m)); err == nil {
				return d
			}
		}
		parent := filepath.Dir(d)
		if parent == d {
			return dir
		}
		d = parent
	}
}

func slashRel(base, p string) string {
	r, err := filepath.Rel(base, p)
	if err != nil {
		return filepath.ToSlash(p)
	}
	return filepath.ToSlash(r)
}

func within(dir, p string) bool {
	r, err := filepath.Rel(dir, p)
	return err == nil && r != ".." && !strings.HasPrefix(r, ".."+string(filepath.Separator))
}

// t turns tokens back into template text.
func (b *builder) t(s string) string { return b.r.Vars.Template(s) }

// path returns a compose-go resolved (absolute) path relative to the plan's
// Dir, slash-separated, as a template.
func (b *builder) path(p string) string {
	if p == "" {
		return ""
	}
	if !filepath.IsAbs(p) || strings.Contains(p, "://") {
		return b.t(p)
	}
	dir := b.r.ProjectDir
	if within(dir, p) || within(b.rootDir, p) || within(b.outDir, p) {
		rel := slashRel(dir, p)
		// A path that is a single variable ("${DATA:-./data}") stays as
		// written.
		return b.t(rel)
	}
	return b.t(filepath.ToSlash(p))
}

// display returns a file name for messages, relative to the working
// directory.
func (b *builder) display(f string) string {
	if f == "" {
		return ""
	}
	if b.wd != "" {
		if r, err := filepath.Rel(b.wd, f); err == nil {
			return r
		}
	}
	return f
}

func (b *builder) pos(service, field string) (string, int, int) {
	if pos, ok := b.r.Positions.Service(service, field); ok {
		return b.display(pos.File), pos.Line, pos.Column
	}
	if len(b.r.Files) > 0 {
		return b.display(b.r.Files[0]), 0, 0
	}
	return "", 0, 0
}

func (b *builder) warn(service, field, format string, args ...any) {
	f, line, _ := b.pos(service, posField(field))
	b.p.Warnings = append(b.p.Warnings, Warning{File: f, Line: line, Service: service, Field: field, Message: fmt.Sprintf(format, args...)})
}

func (b *builder) fail(service, field, format string, args ...any) {
	f, line, col := b.pos(service, posField(field))
	b.errs = append(b.errs, &BuildError{File: f, Line: line, Column: col, Service: service, Field: field, Message: fmt.Sprintf(format, args...)})
}

// posField maps a message field ("deploy.replicas") to a Positions path.
func posField(field string) string { return field }

func (b *builder) checkProfiles() {
	known := map[string]bool{}
	for _, s := range b.r.Project.Services {
		for _, p := range s.Profiles {
			known[b.t(p)] = true
		}
	}
	for _, p := range b.r.Profiles {
		if p != "*" && !known[p] {
			b.p.Warnings = append(b.p.Warnings, Warning{Field: "profiles", Message: fmt.Sprintf("profile %q is used by no service", p)})
		}
	}
}

func (b *builder) service(s types.ServiceConfig, goName string) (composeplan.ServiceSpec, Service) {
	name := s.Name
	spec := composeplan.ServiceSpec{
		Name:          name,
		Image:         b.t(s.Image),
		Profiles:      b.ts(s.Profiles),
		WorkingDir:    b.t(s.WorkingDir),
		User:          b.t(s.User),
		Hostname:      b.t(s.Hostname),
		Restart:       b.t(s.Restart),
		PullPolicy:    b.t(s.PullPolicy),
		NetworkMode:   b.t(s.NetworkMode),
		Links:         b.ts(s.Links),
		ContainerName: b.t(s.ContainerName),
		Init:          s.Init,
		Privileged:    s.Privileged,
		ReadOnly:      s.ReadOnly,
		Tty:           s.Tty,
		StdinOpen:     s.StdinOpen,
		CapAdd:        b.ts(s.CapAdd),
		CapDrop:       b.ts(s.CapDrop),
		ShmSize:       int64(s.ShmSize),
		StopSignal:    b.t(s.StopSignal),
		Platform:      b.t(s.Platform),
		Tmpfs:         b.ts(s.Tmpfs),
		Labels:        b.tmap(map[string]string(s.Labels)),
		Sysctls:       b.tmap(map[string]string(s.Sysctls)),
	}
	if s.Command != nil {
		spec.Command = append([]string{}, b.ts(s.Command)...)
	}
	if s.Entrypoint != nil {
		spec.Entrypoint = append([]string{}, b.ts(s.Entrypoint)...)
	}
	if s.StopGracePeriod != nil {
		d := time.Duration(*s.StopGracePeriod)
		spec.StopGracePeriod = &d
	}
	ms := Service{Name: name, GoName: goName, Image: spec.Image}

	// x-composegen.
	ext := b.extension(s)

	// Kind.
	var kind *templates.Kind
	if ext.kind != "" {
		kind = templates.ByName(ext.kind)
		if kind == nil {
			b.fail(name, ExtensionKey+".kind", "unknown kind %q; known kinds: %s", ext.kind, strings.Join(templates.Kinds(), ", "))
		}
	} else {
		kind = templates.Match(spec.Image)
	}
	if kind != nil {
		spec.Kind = kind.Name
		ms.Kind = kind.Name
		spec.FileEnv = append([]string(nil), kind.FileEnv...)
	}

	// Environment: the environment entries, plus the names (never the
	// values) of the variables of its env files.
	envNames := make([]string, 0, len(s.Environment))
	for k := range s.Environment {
		envNames = append(envNames, k)
	}
	fromFile := b.envFileNames(name, s)
	for k := range fromFile {
		if _, ok := s.Environment[k]; !ok {
			envNames = append(envNames, k)
		}
	}
	sort.Strings(envNames)
	fields, err := naming.Assign(envNames, func(n string) string { return naming.Exported(n, "X") }, nil, "")
	if err != nil {
		b.fail(name, "environment", "%v", err)
	}
	for _, k := range envNames {
		v, declared := s.Environment[k]
		if !declared {
			ms.Env = append(ms.Env, Env{Field: fields[k], Name: k, EnvFile: fromFile[k]})
			continue
		}
		ev := composeplan.EnvVar{Name: b.t(k)}
		if v == nil {
			ev.FromEnv = true
		} else {
			ev.Value = b.t(*v)
		}
		spec.Environment = append(spec.Environment, ev)
		ms.Env = append(ms.Env, Env{Field: fields[k], Name: ev.Name, Value: ev.Value})
	}
	for _, ef := range s.EnvFiles {
		spec.EnvFiles = append(spec.EnvFiles, composeplan.EnvFile{Path: b.path(ef.Path), Required: bool(ef.Required), Format: b.t(ef.Format)})
	}

	// Ports.
	b.ports(s, kind, &spec, &ms)
	b.advertised(name, kind, &spec)

	// Healthcheck and probe.
	noHealthcheck := true
	if hc := s.HealthCheck; hc != nil {
		h := &composeplan.HealthcheckSpec{Test: b.ts(hc.Test), Disable: hc.Disable}
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
		spec.Healthcheck = h
		noHealthcheck = h.Disable || len(h.Test) == 0
	}
	// The kind's probe is readiness without a healthcheck, and the cheap
	// gate in front of a healthcheck's exec when there is one.
	switch {
	case kind != nil && kind.Probe != nil:
		p := *kind.Probe
		spec.Probe = &p
	case noHealthcheck:
		for _, p := range spec.Ports {
			if p.Protocol == "tcp" && !p.Implicit {
				spec.Probe = &composeplan.ProbeSpec{Protocol: "tcp", Port: p.Target}
				break
			}
		}
	}

	// Dependencies.
	deps := make([]string, 0, len(s.DependsOn))
	for d := range s.DependsOn {
		deps = append(deps, d)
	}
	sort.Strings(deps)
	for _, d := range deps {
		c := s.DependsOn[d]
		cond := c.Condition
		if cond == "" {
			cond = types.ServiceConditionStarted
		}
		spec.DependsOn = append(spec.DependsOn, composeplan.Dependency{Service: d, Condition: cond, Required: c.Required, Restart: c.Restart})
	}

	// Build.
	if bc := s.Build; bc != nil {
		bs := &composeplan.BuildSpec{Context: b.path(bc.Context), Dockerfile: b.t(bc.Dockerfile), Target: b.t(bc.Target)}
		bare := b.r.Positions.BareBuildArgs(name)
		if len(bc.Args) > 0 || len(bare) > 0 {
			bs.Args = map[string]string{}
			for _, k := range bare {
				bs.Args[k] = "${" + k + "}"
			}
			for k, v := range bc.Args {
				if v == nil {
					// A bare build arg takes the variable of the same name
					// when the stack starts.
					bs.Args[b.t(k)] = "${" + b.t(k) + "}"
				} else {
					bs.Args[b.t(k)] = b.t(*v)
				}
			}
		}
		spec.Build = bs
		b.buildWarnings(name, bc)
	}

	// Mounts.
	for i, v := range s.Volumes {
		m := composeplan.MountSpec{Type: v.Type, Target: b.t(v.Target), ReadOnly: v.ReadOnly}
		switch v.Type {
		case types.VolumeTypeBind:
			m.Source = b.path(v.Source)
		case types.VolumeTypeVolume, types.VolumeTypeTmpfs:
			m.Source = b.t(v.Source)
		default:
			b.warn(name, fmt.Sprintf("volumes[%d]", i), "mount type %q is not supported; ignored", v.Type)
			continue
		}
		spec.Mounts = append(spec.Mounts, m)
	}

	// Extra hosts.
	hosts := make([]string, 0, len(s.ExtraHosts))
	for h, ips := range s.ExtraHosts {
		for _, ip := range ips {
			hosts = append(hosts, b.t(h)+":"+b.t(ip))
		}
	}
	sort.Strings(hosts)
	if len(hosts) > 0 {
		spec.ExtraHosts = hosts
	}

	// Networks: nil means the stack's default network.
	if len(s.Networks) > 0 {
		nets := make([]string, 0, len(s.Networks))
		for n := range s.Networks {
			nets = append(nets, n)
		}
		sort.Strings(nets)
		onlyDefault := len(nets) == 1 && nets[0] == "default" && (s.Networks["default"] == nil || len(s.Networks["default"].Aliases) == 0)
		if !onlyDefault {
			for _, n := range nets {
				sn := composeplan.ServiceNetwork{Network: n}
				if c := s.Networks[n]; c != nil {
					sn.Aliases = b.ts(c.Aliases)
					if c.Ipv4Address != "" || c.Ipv6Address != "" {
						b.warn(name, "networks."+n, "fixed IP addresses are not supported (every stack gets its own network); ignored")
					}
				}
				spec.Networks = append(spec.Networks, sn)
			}
		}
	}

	for _, sc := range s.Secrets {
		spec.Secrets = append(spec.Secrets, fileRef(b, types.FileReferenceConfig(sc)))
	}
	for _, cc := range s.Configs {
		spec.Configs = append(spec.Configs, fileRef(b, types.FileReferenceConfig(cc)))
	}

	// Ulimits.
	ul := make([]string, 0, len(s.Ulimits))
	for k := range s.Ulimits {
		ul = append(ul, k)
	}
	sort.Strings(ul)
	for _, k := range ul {
		u := s.Ulimits[k]
		if u == nil {
			continue
		}
		l := composeplan.Ulimit{Name: k, Soft: int64(u.Soft), Hard: int64(u.Hard)}
		if u.Single != 0 {
			l.Soft, l.Hard = int64(u.Single), int64(u.Single)
		}
		spec.Ulimits = append(spec.Ulimits, l)
	}

	b.hostOptions(s, &spec)

	// Accessors.
	b.accessors(name, ext, kind, &ms)

	b.unsupported(s)
	return spec, ms
}

// hostOptions maps dns, security_opt, group_add, the resource limits,
// volumes_from, pid, ipc, devices, userns_mode and cgroup_parent.
func (b *builder) hostOptions(s types.ServiceConfig, spec *composeplan.ServiceSpec) {
	spec.DNS = b.ts(s.DNS)
	spec.DNSSearch = b.ts(s.DNSSearch)
	spec.DNSOpt = b.ts(s.DNSOpts)
	spec.SecurityOpt = b.ts(s.SecurityOpt)
	spec.GroupAdd = b.ts(s.GroupAdd)
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
	spec.Pid = b.t(s.Pid)
	spec.Ipc = b.t(s.Ipc)
	spec.UsernsMode = b.t(s.UserNSMode)
	spec.CgroupParent = b.t(s.CgroupParent)
	for _, v := range s.VolumesFrom {
		// The short form names a service: make it explicit.
		if v = b.t(v); !strings.HasPrefix(v, "container:") && !strings.HasPrefix(v, "service:") {
			v = "service:" + v
		}
		spec.VolumesFrom = append(spec.VolumesFrom, v)
	}
	for _, d := range s.Devices {
		spec.Devices = append(spec.Devices, composeplan.Device{Source: b.t(d.Source), Target: b.t(d.Target), Permissions: b.t(d.Permissions)})
	}
}

func fileRef(b *builder, c types.FileReferenceConfig) composeplan.FileRef {
	r := composeplan.FileRef{Source: b.t(c.Source), Target: b.t(c.Target), UID: b.t(c.UID), GID: b.t(c.GID)}
	if c.Mode != nil {
		m := uint32(*c.Mode)
		r.Mode = &m
	}
	return r
}

func (b *builder) ts(in []string) []string {
	if in == nil {
		return nil
	}
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = b.t(s)
	}
	return out
}

func (b *builder) tmap(in map[string]string) map[string]string {
	if len(in) == 0 {
		return nil
	}
	out := make(map[string]string, len(in))
	for k, v := range in {
		out[b.t(k)] = b.t(v)
	}
	return out
}

// ports fills spec.Ports and ms.Ports: ports (each range already expanded
// by compose-go), then expose, then the kind's default ports, deduplicated
// by (target, protocol).
func (b *builder) ports(s types.ServiceConfig, kind *templates.Kind, spec *composeplan.ServiceSpec, ms *Service) {
	type key struct {
		target int
		proto  string
	}
	seen := map[key]bool{}
	var sources []string
	add := func(p composeplan.PortSpec, source string) {
		if p.Protocol == "" {
			p.Protocol = "tcp"
		}
		k := key{p.Target, p.Protocol}
		if seen[k] {
			return
		}
		seen[k] = true
		spec.Ports = append(spec.Ports, p)
		sources = append(sources, source)
	}
	for _, pc := range s.Ports {
		p := composeplan.PortSpec{
			Name: b.t(pc.Name), Target: int(pc.Target), Protocol: strings.ToLower(b.t(pc.Protocol)),
			Published: b.t(pc.Published), HostIP: b.t(pc.HostIP), AppProtocol: b.t(pc.AppProtocol),
		}
		src := "ports: " + strconv.Itoa(p.Target)
		if p.Published != "" {
			src = "ports: " + p.Published + ":" + strconv.Itoa(p.Target)
		}
		if p.Protocol == "udp" {
			src += "/udp"
		}
		if p.Name != "" {
			src += " (" + p.Name + ")"
		}
		add(p, src)
	}
	for i, e := range s.Expose {
		e = b.t(e)
		portPart, proto, _ := strings.Cut(e, "/")
		lo, hi, err := portRange(portPart)
		if err != nil {
			b.fail(s.Name, fmt.Sprintf("expose[%d]", i), "invalid port %q: %v", e, err)
			continue
		}
		if proto == "" {
			proto = "tcp"
		}
		for port := lo; port <= hi; port++ {
			add(composeplan.PortSpec{Target: port, Protocol: strings.ToLower(proto), Expose: true}, "expose: "+e)
		}
	}
	if kind != nil {
		for _, port := range kind.Ports {
			add(composeplan.PortSpec{Target: port, Protocol: "tcp", Implicit: true}, "default port of kind "+kind.Name)
		}
	}

	// Method names: reserved ones and kind accessors are off limits.
	taken := map[string]bool{}
	for n := range ReservedMethods {
		taken[n] = true
	}
	if kind != nil {
		for _, a := range kind.Accessors {
			taken[a.Name] = true
		}
	}
	for i, p := range spec.Ports {
		var m string
		if p.Name != "" {
			m = naming.Exported(p.Name, "Port")
			if taken[m] {
				m += "Port"
			}
		} else {
			m = "Port" + strconv.Itoa(p.Target)
			if p.Protocol != "tcp" {
				m += strings.ToUpper(p.Protocol)
			}
		}
		base := m
		for n := 2; taken[m]; n++ {
			m = base + strconv.Itoa(n)
		}
		taken[m] = true
		ms.Ports = append(ms.Ports, Port{Method: m, Target: p.Target, Protocol: p.Protocol, Source: sources[i]})
	}
}

func portRange(s string) (int, int, error) {
	a, c, isRange := strings.Cut(s, "-")
	lo, err := strconv.Atoi(strings.TrimSpace(a))
	if err != nil {
		return 0, 0, err
	}
	hi := lo
	if isRange {
		if hi, err = strconv.Atoi(strings.TrimSpace(c)); err != nil {
			return 0, 0, err
		}
	}
	if lo < 1 || hi > 65535 || hi < lo {
		return 0, 0, errors.New("out of range")
	}
	if hi-lo > 1000 {
		return 0, 0, errors.New("range too large")
	}
	return lo, hi, nil
}

type extension struct {
	kind      string
	accessors map[string]string
}

var reAccessorName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)

func (b *builder) extension(s types.ServiceConfig) extension {
	var ext extension
	raw, ok := s.Extensions[ExtensionKey]
	if !ok {
		return ext
	}
	m, ok := raw.(map[string]any)
	if !ok {
		b.fail(s.Name, ExtensionKey, "must be a mapping with keys kind and accessors")
		return ext
	}
	keys := sortedKeys(m)
	for _, k := range keys {
		v := m[k]
		switch k {
		case "kind":
			str, ok := v.(string)
			if !ok || str == "" {
				b.fail(s.Name, ExtensionKey+".kind", "must be a kind name (one of %s)", strings.Join(templates.Kinds(), ", "))
				continue
			}
			ext.kind = b.t(str)
		case "accessors":
			am, ok := v.(map[string]any)
			if !ok {
				b.fail(s.Name, ExtensionKey+".accessors", "must be a mapping of method name to text/template, e.g. JDBC: \"jdbc:postgresql://{{.Addr 5432}}/app\"")
				continue
			}
			ext.accessors = map[string]string{}
			for _, an := range sortedKeys(am) {
				tv, ok := am[an].(string)
				if !ok {
					b.fail(s.Name, ExtensionKey+".accessors."+an, "the template must be a string")
					continue
				}
				ext.accessors[an] = b.t(tv)
			}
		default:
			b.fail(s.Name, ExtensionKey+"."+k, "unknown key %q (known: kind, accessors)", k)
		}
	}
	return ext
}

func (b *builder) accessors(service string, ext extension, kind *templates.Kind, ms *Service) {
	if len(ext.accessors) == 0 {
		return
	}
	taken := map[string]string{}
	for n := range ReservedMethods {
		taken[n] = "a generated method"
	}
	for _, p := range ms.Ports {
		taken[p.Method] = "the port method of " + p.Source
	}
	if kind != nil {
		for _, a := range kind.Accessors {
			taken[a.Name] = "an accessor of kind " + kind.Name
		}
	}
	for _, name := range sortedKeys(ext.accessors) {
		tmpl := ext.accessors[name]
		field := ExtensionKey + ".accessors." + name
		if !reAccessorName.MatchString(name) {
			b.fail(service, field, "accessor name %q is not an identifier: use letters, digits and _, starting with a letter", name)
			continue
		}
		goName := strings.ToUpper(name[:1]) + name[1:]
		if what, ok := taken[goName]; ok {
			b.fail(service, field, "accessor %s collides with %s; rename it", goName, what)
			continue
		}
		if _, err := template.New(goName).Option("missingkey=error").Parse(tmpl); err != nil {
			b.fail(service, field, "invalid template: %v", err)
			continue
		}
		taken[goName] = "accessor " + name
		ms.Accessors = append(ms.Accessors, Accessor{Name: goName, Template: tmpl})
	}
	sort.Slice(ms.Accessors, func(i, j int) bool { return ms.Accessors[i].Name < ms.Accessors[j].Name })
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func (b *builder) buildWarnings(service string, bc *types.BuildConfig) {
	if bc.DockerfileInline != "" {
		b.warn(service, "build.dockerfile_inline", "inline Dockerfiles are not supported; write the Dockerfile to a file")
	}
	if len(bc.Secrets) > 0 || len(bc.SSH) > 0 {
		b.warn(service, "build", "build secrets and ssh are not supported; ignored")
	}
	if len(bc.AdditionalContexts) > 0 {
		b.warn(service, "build.additional_contexts", "additional build contexts are not supported; ignored")
	}
	if len(bc.Platforms) > 0 {
		b.warn(service, "build.platforms", "build platforms are not supported; ignored")
	}
}

// supportedFields are the service attributes the plan represents (or that
// do not change how the stack behaves in tests).
var supportedFields = map[string]bool{
	"name": true, "image": true, "profiles": true, "command": true, "entrypoint": true,
	"environment": true, "env_file": true, "labels": true, "ports": true, "expose": true,
	"healthcheck": true, "depends_on": true, "working_dir": true, "user": true,
	"hostname": true, "restart": true, "build": true, "pull_policy": true, "volumes": true,
	"tmpfs": true, "extra_hosts": true, "networks": true, "network_mode": true, "links": true,
	"secrets": true, "configs": true, "container_name": true, "init": true, "privileged": true,
	"read_only": true, "tty": true, "stdin_open": true, "cap_add": true, "cap_drop": true,
	"shm_size": true, "sysctls": true, "ulimits": true, "stop_signal": true,
	"stop_grace_period": true, "platform": true, "extends": true,
	"dns": true, "dns_search": true, "dns_opt": true, "security_opt": true, "group_add": true,
	"mem_limit": true, "mem_reservation": true, "memswap_limit": true, "cpus": true,
	"cpu_shares": true, "pids_limit": true, "oom_kill_disable": true, "oom_score_adj": true,
	"volumes_from": true, "pid": true, "ipc": true, "devices": true, "userns_mode": true,
	"cgroup_parent": true,
	// No effect on a test stack.
	"develop": true, "attach": true, "scale": true, "deploy": true,
}

// unsupported reports every attribute of s that the plan cannot carry.
func (b *builder) unsupported(s types.ServiceConfig) {
	name := s.Name
	replicas := 1
	if s.Scale != nil {
		replicas = *s.Scale
		if replicas > 1 {
			b.fail(name, "scale", "scale %d is not supported: composegen starts one container per service (set scale: 1, or declare one service per instance)", replicas)
		}
	}
	if d := s.Deploy; d != nil {
		if d.Replicas != nil && *d.Replicas > 1 {
			b.fail(name, "deploy.replicas", "replicas %d is not supported: composegen starts one container per service (set replicas: 1, or declare one service per instance)", *d.Replicas)
		}
		dm, _ := toMap(d)
		for _, k := range sortedKeys(dm) {
			if k == "replicas" || strings.HasPrefix(k, "x-") {
				continue
			}
			b.warn(name, "deploy."+k, "not supported by composegen; ignored")
		}
	}
	m, err := toMap(s)
	if err != nil {
		return
	}
	for _, k := range sortedKeys(m) {
		if supportedFields[k] || strings.HasPrefix(k, "x-") {
			continue
		}
		b.warn(name, k, "not supported by composegen; ignored")
	}
}

// toMap renders a compose-go value as YAML and back to find which
// attributes are set.
func toMap(v any) (map[string]any, error) {
	data, err := yaml.Marshal(v)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := yaml.Unmarshal(data, &m); err != nil {
		return nil, err
	}
	return m, nil
}

func (b *builder) resources() {
	pj := b.r.Project
	plan := &b.p.Plan
	for _, n := range sortedKeys(pj.Volumes) {
		v := pj.Volumes[n]
		vs := composeplan.VolumeSpec{Name: n, External: bool(v.External), Driver: b.t(v.Driver), DriverOpts: b.tmap(map[string]string(v.DriverOpts)), Labels: b.tmap(map[string]string(v.Labels))}
		if vs.External {
			vs.ExternalName = b.t(v.Name)
		}
		plan.Volumes = append(plan.Volumes, vs)
	}
	for _, n := range sortedKeys(pj.Networks) {
		v := pj.Networks[n]
		ns := composeplan.NetworkSpec{Name: n, External: bool(v.External), Internal: v.Internal, Driver: b.t(v.Driver), DriverOpts: b.tmap(map[string]string(v.DriverOpts)), Labels: b.tmap(map[string]string(v.Labels))}
		if len(v.Ipam.Config) > 0 || v.Ipam.Driver != "" || len(v.Ipam.Options) > 0 {
			b.p.Warnings = append(b.p.Warnings, Warning{File: b.display(b.r.Files[0]), Field: "networks." + n + ".ipam", Message: "fixed subnets are not supported (every stack instance gets its own network, and parallel stacks would collide); ignored"})
		}
		if v.EnableIPv6 != nil && *v.EnableIPv6 {
			b.p.Warnings = append(b.p.Warnings, Warning{File: b.display(b.r.Files[0]), Field: "networks." + n + ".enable_ipv6", Message: "not supported by composegen; ignored"})
		}
		if ns.External {
			ns.ExternalName = b.t(v.Name)
		}
		plan.Networks = append(plan.Networks, ns)
	}
	for _, n := range sortedKeys(pj.Secrets) {
		plan.Secrets = append(plan.Secrets, b.fileSpec(n, types.FileObjectConfig(pj.Secrets[n])))
	}
	for _, n := range sortedKeys(pj.Configs) {
		plan.Configs = append(plan.Configs, b.fileSpec(n, types.FileObjectConfig(pj.Configs[n])))
	}
}

func (b *builder) fileSpec(name string, c types.FileObjectConfig) composeplan.FileSpec {
	return composeplan.FileSpec{
		Name: name, File: b.path(c.File), Environment: b.t(c.Environment),
		Content: b.t(c.Content), External: bool(c.External),
	}
}

// hash is a SHA-256 over the compose files, the env files and the flags.
func (b *builder) hash() string {
	h := sha256.New()
	write := func(kind, name string, data []byte) {
		fmt.Fprintf(h, "%s %q %d\n", kind, name, len(data))
		h.Write(data)
	}
	files := append([]string(nil), b.r.Positions.Files()...)
	for _, f := range b.r.Files {
		found := false
		for _, g := range files {
			found = found || g == f
		}
		if !found {
			files = append(files, f)
		}
	}
	for _, f := range files {
		data, _ := os.ReadFile(f)
		write("compose", slashRel(b.outDir, f), data)
	}
	for _, f := range b.r.EnvFiles {
		data, _ := os.ReadFile(f)
		write("env", slashRel(b.outDir, f), data)
	}
	for _, f := range b.opts.Flags {
		write("flag", f, nil)
	}
	write("package", b.opts.Package, nil)
	return hex.EncodeToString(h.Sum(nil))
}

// findTokens reports where a variable token survived, "" when none did.
func findTokens(p *Project) string {
	s := fmt.Sprintf("%#v", *p)
	if i := strings.IndexRune(s, '\uE000'); i >= 0 {
		start := max(0, i-60)
		return strings.ToValidUTF8(s[start:i], "")
	}
	return ""
}

var _ io.Writer = (*strings.Builder)(nil)
