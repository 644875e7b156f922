package kube

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/composegen/composegen/runtime/engine"
)

// startGate is the scheduling gate that holds a created pod back until
// Start: a created container is a pod that the scheduler leaves alone.
const startGate = "kube.composegen.io/start"

// podPlan is a container's pod and the objects it needs.
type podPlan struct {
	pod        *corev1.Pod
	configMaps []*corev1.ConfigMap
	secrets    []*corev1.Secret
	claims     []string // named volumes the pod mounts
	aliases    []alias
}

// buildPod maps a container spec onto a gated pod of namespace ns.
func buildPod(ns string, spec *engine.ContainerSpec) (*podPlan, error) {
	name := dnsLabel(spec.Name)
	c, more := mainContainer(spec)
	pp := &podPlan{pod: &corev1.Pod{}}
	pod := pp.pod
	pod.ObjectMeta = objectMeta(name, kindContainer, spec.Name, spec.Labels)
	pod.Namespace = ns
	pod.Labels[labelPod] = name
	ports, _ := json.Marshal(spec.Ports)
	pod.Annotations[annotationPorts] = string(ports)
	pod.Spec = podSpec(spec)
	more = append(more, mountVolumes(name, spec, pp, &c)...)
	pod.Spec.Containers = []corev1.Container{c}
	more = append(more, hostSettings(spec, &pod.Spec)...)
	if err := refuse(spec, more); err != nil {
		return nil, err
	}
	pp.aliases = aliasesOf(spec)
	for _, a := range pp.aliases {
		pod.Labels[aliasLabel(a.name)] = "true"
	}
	return pp, nil
}

// podSpec sets what belongs to the pod rather than its container.
func podSpec(spec *engine.ContainerSpec) corev1.PodSpec {
	grace := int64(10) // Docker's default stop timeout, not Kubernetes' 30s
	if spec.StopTimeout > 0 {
		grace = int64((spec.StopTimeout + time.Second - 1) / time.Second)
	}
	ps := corev1.PodSpec{
		RestartPolicy:                 restartPolicy(spec.Restart),
		TerminationGracePeriodSeconds: &grace,
		// Service links would add FOO_PORT=tcp://... for every service of
		// the namespace, which breaks images that read such variables.
		EnableServiceLinks:           new(false),
		AutomountServiceAccountToken: new(false),
		SchedulingGates:              []corev1.PodSchedulingGate{{Name: startGate}},
		// Host names are case-insensitive; a pod's must be lower case.
		Hostname: strings.ToLower(spec.Hostname),
	}
	if spec.Init != nil && *spec.Init {
		// The pause container becomes PID 1 and reaps zombies, as
		// Docker's init does.
		ps.ShareProcessNamespace = new(true)
	}
	if os, arch, ok := strings.Cut(spec.Platform, "/"); spec.Platform != "" {
		ps.NodeSelector = map[string]string{corev1.LabelOSStable: os}
		if ok {
			arch, _, _ = strings.Cut(arch, "/")
			ps.NodeSelector[corev1.LabelArchStable] = arch
		}
	}
	return ps
}

func restartPolicy(p engine.RestartPolicy) corev1.RestartPolicy {
	switch p.Name {
	case "always", "unless-stopped":
		return corev1.RestartPolicyAlways
	case "on-failure":
		return corev1.RestartPolicyOnFailure
	}
	return corev1.RestartPolicyNever
}

// mainContainer maps the container itself.
func mainContainer(spec *engine.ContainerSpec) (corev1.Container, []refusal) {
	name := "main"
	if spec.Service != "" {
		name = dnsLabel(spec.Service)
	}
	c := corev1.Container{
		Name: name, Image: spec.Image, ImagePullPolicy: pullPolicy(spec.PullPolicy),
		WorkingDir: spec.WorkingDir, TTY: spec.Tty, Stdin: spec.OpenStdin,
		TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
	}
	var out []refusal
	var err error
	if c.Command, c.Args, err = commandLine(spec); err != nil {
		out = append(out, refusal{"entrypoint", err.Error()})
	}
	c.Env = envVars(spec.Env)
	for _, p := range spec.Ports {
		c.Ports = append(c.Ports, corev1.ContainerPort{ContainerPort: int32(p.Port), Protocol: corev1.ProtocolTCP})
	}
	sc, more := securityContext(spec)
	c.SecurityContext = sc
	out = append(out, more...)
	c.Resources = resources(spec)
	if sig := stopSignal(spec.StopSignal); sig != "" {
		c.Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: preStop(sig, spec.Init)}}}
	} else if spec.StopSignal != "" && spec.StopSignal != "SIGTERM" && spec.StopSignal != "TERM" && spec.StopSignal != "15" {
		out = append(out, refusal{"stop_signal", fmt.Sprintf("%q is not a signal name or number", spec.StopSignal)})
	}
	return c, out
}

func pullPolicy(p string) corev1.PullPolicy {
	switch p {
	case "always":
		return corev1.PullAlways
	case "never":
		return corev1.PullNever
	}
	// Never Kubernetes' default for :latest (Always): the runtime has
	// made the image available as the compose file asks.
	return corev1.PullIfNotPresent
}

// commandLine maps entrypoint and command: Kubernetes' command replaces
// the image's ENTRYPOINT (and then ignores its CMD, as Docker does), args
// replace its CMD.
func commandLine(spec *engine.ContainerSpec) (command, args []string, err error) {
	switch {
	case spec.Entrypoint == nil:
		return nil, spec.Cmd, nil
	case len(spec.Entrypoint) > 0:
		return spec.Entrypoint, spec.Cmd, nil
	case len(spec.Cmd) > 0:
		return spec.Cmd, nil, nil
	}
	return nil, nil, fmt.Errorf("an empty entrypoint with the image's own command cannot be expressed (Kubernetes does not know the image's CMD): give a command")
}

func envVars(env []string) []corev1.EnvVar {
	var out []corev1.EnvVar
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok {
			out = append(out, corev1.EnvVar{Name: k, Value: v})
		}
	}
	return out
}

var signalName = regexp.MustCompile(`^[A-Z0-9+]+$`)

// stopSignal returns the kill(1) name of a stop signal other than
// SIGTERM (which the kubelet sends itself), "" for none.
func stopSignal(s string) string {
	s = strings.TrimPrefix(strings.ToUpper(s), "SIG")
	if s == "" || s == "TERM" || s == "15" || !signalName.MatchString(s) {
		return ""
	}
	return s
}

// preStop sends the stop signal before the kubelet's SIGTERM and waits
// until the main process is gone (or the grace period ends). With an init
// process the main process is not PID 1: every process but init gets it.
func preStop(sig string, init *bool) []string {
	if init != nil && *init {
		return []string{"sh", "-c", "kill -" + sig + " -1"}
	}
	return []string{"sh", "-c", "kill -" + sig + " 1; while kill -0 1 2>/dev/null; do sleep 0.1; done"}
}

// userIDs parses a compose user: "uid", "uid:gid", "root". Kubernetes
// runs containers as numbers only.
func userIDs(user string) (uid, gid *int64, err error) {
	if user == "" {
		return nil, nil, nil
	}
	u, g, hasGroup := strings.Cut(user, ":")
	if uid, err = numericID(u); err != nil {
		return nil, nil, err
	}
	if hasGroup {
		if gid, err = numericID(g); err != nil {
			return nil, nil, err
		}
	}
	return uid, gid, nil
}

func numericID(s string) (*int64, error) {
	if s == "root" {
		return new(int64(0)), nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return nil, fmt.Errorf("%q is a name: Kubernetes runs containers as numeric ids only (user: \"999\" or \"999:999\", the ids the image's /etc/passwd gives that name)", s)
	}
	return &n, nil
}

// securityContext maps user, privileged, read_only, cap_add, cap_drop and
// security_opt.
func securityContext(spec *engine.ContainerSpec) (*corev1.SecurityContext, []refusal) {
	sc := &corev1.SecurityContext{}
	var out []refusal
	uid, gid, err := userIDs(spec.User)
	if err != nil {
		out = append(out, refusal{"user", err.Error()})
	}
	sc.RunAsUser, sc.RunAsGroup = uid, gid
	if spec.Privileged {
		sc.Privileged = new(true)
	}
	if spec.ReadOnly {
		sc.ReadOnlyRootFilesystem = new(true)
	}
	if len(spec.CapAdd)+len(spec.CapDrop) > 0 {
		sc.Capabilities = &corev1.Capabilities{Add: capabilities(spec.CapAdd), Drop: capabilities(spec.CapDrop)}
	}
	for _, o := range spec.SecurityOpt {
		if apply, ok := securityOpt(o); ok {
			apply(sc)
		}
	}
	return sc, out
}

func capabilities(in []string) []corev1.Capability {
	var out []corev1.Capability
	for _, c := range in {
		out = append(out, corev1.Capability(strings.TrimPrefix(strings.ToUpper(c), "CAP_")))
	}
	return out
}

// securityOpt maps a Docker security option onto the security context.
func securityOpt(o string) (func(*corev1.SecurityContext), bool) {
	o = strings.Replace(o, "=", ":", 1)
	switch o {
	case "no-new-privileges", "no-new-privileges:true":
		return func(sc *corev1.SecurityContext) { sc.AllowPrivilegeEscalation = new(false) }, true
	case "no-new-privileges:false":
		return func(*corev1.SecurityContext) {}, true
	case "seccomp:unconfined":
		return func(sc *corev1.SecurityContext) {
			sc.SeccompProfile = &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeUnconfined}
		}, true
	case "apparmor:unconfined":
		return func(sc *corev1.SecurityContext) {
			sc.AppArmorProfile = &corev1.AppArmorProfile{Type: corev1.AppArmorProfileTypeUnconfined}
		}, true
	}
	return nil, false
}

// resources maps mem_limit, mem_reservation, cpus and cpu_shares.
func resources(spec *engine.ContainerSpec) corev1.ResourceRequirements {
	var r corev1.ResourceRequirements
	set := func(m *corev1.ResourceList, name corev1.ResourceName, q resource.Quantity) {
		if *m == nil {
			*m = corev1.ResourceList{}
		}
		(*m)[name] = q
	}
	if spec.Memory > 0 {
		set(&r.Limits, corev1.ResourceMemory, *resource.NewQuantity(spec.Memory, resource.BinarySI))
	}
	if req := spec.MemReservation; req > 0 {
		if spec.Memory > 0 {
			req = min(req, spec.Memory) // a request may not exceed the limit
		}
		set(&r.Requests, corev1.ResourceMemory, *resource.NewQuantity(req, resource.BinarySI))
	}
	if spec.NanoCPUs > 0 {
		set(&r.Limits, corev1.ResourceCPU, *resource.NewMilliQuantity(max(spec.NanoCPUs/1e6, 1), resource.DecimalSI))
	}
	if spec.CPUShares > 0 {
		milli := max(spec.CPUShares*1000/1024, 1)
		if spec.NanoCPUs > 0 {
			milli = min(milli, max(spec.NanoCPUs/1e6, 1))
		}
		set(&r.Requests, corev1.ResourceCPU, *resource.NewMilliQuantity(milli, resource.DecimalSI))
	}
	return r
}

// hostSettings maps hostname, extra_hosts, dns, dns_search, dns_opt,
// sysctls and group_add onto the pod.
func hostSettings(spec *engine.ContainerSpec, ps *corev1.PodSpec) []refusal {
	var out []refusal
	if h := strings.ToLower(spec.Hostname); h != "" && len(validation.IsDNS1123Label(h)) > 0 {
		out = append(out, refusal{"hostname", fmt.Sprintf("%q is not a valid pod hostname (lowercase letters, digits and '-', at most 63)", spec.Hostname)})
	}
	for _, h := range spec.ExtraHosts {
		if host, ip, ok := splitExtraHost(h); ok && ip != "host-gateway" {
			ps.HostAliases = append(ps.HostAliases, corev1.HostAlias{IP: ip, Hostnames: []string{host}})
		}
	}
	if len(spec.DNS)+len(spec.DNSSearch)+len(spec.DNSOptions) > 0 {
		ps.DNSConfig = &corev1.PodDNSConfig{Nameservers: spec.DNS, Searches: spec.DNSSearch}
		for _, o := range spec.DNSOptions {
			k, v, hasValue := strings.Cut(o, ":")
			opt := corev1.PodDNSConfigOption{Name: k}
			if hasValue {
				opt.Value = &v
			}
			ps.DNSConfig.Options = append(ps.DNSConfig.Options, opt)
		}
	}
	sc := &corev1.PodSecurityContext{}
	for k, v := range spec.Sysctls {
		sc.Sysctls = append(sc.Sysctls, corev1.Sysctl{Name: k, Value: v})
	}
	sort.Slice(sc.Sysctls, func(i, j int) bool { return sc.Sysctls[i].Name < sc.Sysctls[j].Name })
	for _, g := range spec.GroupAdd {
		id, err := numericID(g)
		if err != nil {
			out = append(out, refusal{"group_add", strings.Replace(err.Error(), "user:", "group_add:", 1)})
			continue
		}
		sc.SupplementalGroups = append(sc.SupplementalGroups, *id)
	}
	ps.SecurityContext = sc
	return out
}

// splitExtraHost splits "host:ip" or "host=ip" (the IP may be IPv6).
func splitExtraHost(h string) (host, ip string, ok bool) {
	if host, ip, ok = strings.Cut(h, "="); ok {
		return host, strings.Trim(ip, "[]"), true
	}
	host, ip, ok = strings.Cut(h, ":")
	return host, strings.Trim(ip, "[]"), ok
}
