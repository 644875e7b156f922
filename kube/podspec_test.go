package kube

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/composegen/composegen/runtime/engine"
)

func TestDNSNames(t *testing.T) {
	for _, name := range []string{"postgres", "redis_cache", "Web", "2fa", "a.b", strings.Repeat("x", 80), "_", "orders_x-1a2b"} {
		l := dnsLabel(name)
		if errs := validation.IsDNS1123Label(l); len(errs) > 0 {
			t.Errorf("dnsLabel(%q) = %q: %v", name, l, errs)
		}
		if s := dns1035(name); len(validation.IsDNS1035Label(s)) > 0 {
			t.Errorf("dns1035(%q) = %q is not a Service name", name, s)
		}
	}
	if dnsLabel("postgres") != "postgres" {
		t.Errorf("a valid name is kept")
	}
	if dnsLabel("a_b") == dnsLabel("a-b") {
		t.Errorf("a_b and a-b collide")
	}
}

func TestRefusalsNameServiceAndField(t *testing.T) {
	base := func() *engine.ContainerSpec {
		return &engine.ContainerSpec{Name: "p-svc-1", Project: "p", Service: "svc", Image: "busybox"}
	}
	for _, c := range []struct {
		field string
		mod   func(*engine.ContainerSpec)
	}{
		{"network_mode", func(s *engine.ContainerSpec) { s.NetworkMode = "host" }},
		{"pid", func(s *engine.ContainerSpec) { s.PidMode = "host" }},
		{"ipc", func(s *engine.ContainerSpec) { s.IpcMode = "host" }},
		{"volumes_from", func(s *engine.ContainerSpec) { s.VolumesFrom = []string{"x"} }},
		{"devices", func(s *engine.ContainerSpec) { s.Devices = []engine.Device{{Source: "/dev/fuse"}} }},
		{"ulimits", func(s *engine.ContainerSpec) { s.Ulimits = []engine.Ulimit{{Name: "nofile", Soft: 1, Hard: 1}} }},
		{"user", func(s *engine.ContainerSpec) { s.User = "postgres" }},
		{"group_add", func(s *engine.ContainerSpec) { s.GroupAdd = []string{"wheel"} }},
		{"ports", func(s *engine.ContainerSpec) { s.Ports = []engine.PortBinding{{Port: 53, Protocol: "udp"}} }},
		{"extra_hosts", func(s *engine.ContainerSpec) { s.ExtraHosts = []string{"host.docker.internal:host-gateway"} }},
		{"security_opt", func(s *engine.ContainerSpec) { s.SecurityOpt = []string{"label:disable"} }},
		{"hostname", func(s *engine.ContainerSpec) { s.Hostname = "my_host" }},
		{"userns_mode", func(s *engine.ContainerSpec) { s.UsernsMode = "host" }},
		{"cgroup_parent", func(s *engine.ContainerSpec) { s.CgroupParent = "x" }},
		{"oom_score_adj", func(s *engine.ContainerSpec) { s.OomScoreAdj = 500 }},
		{"entrypoint", func(s *engine.ContainerSpec) { s.Entrypoint = []string{} }},
	} {
		s := base()
		c.mod(s)
		_, err := buildPod("p", s)
		if err == nil || !strings.Contains(err.Error(), `service "svc"`) || !strings.Contains(err.Error(), c.field+":") {
			t.Errorf("%s: %v; want a refusal naming the service and the field", c.field, err)
		}
	}
	if _, err := buildPod("p", base()); err != nil {
		t.Errorf("plain spec: %v", err)
	}
}

func TestPodMapping(t *testing.T) {
	init := true
	spec := &engine.ContainerSpec{
		Name: "proj_x-web-1", Project: "proj_x", Service: "web", Image: "nginx:latest",
		Entrypoint: []string{"/bin/sh", "-c"}, Cmd: []string{"exec nginx"}, Env: []string{"A=1", "B=x=y"},
		User: "101:102", WorkingDir: "/srv", StopSignal: "SIGQUIT", Init: &init,
		Restart: engine.RestartPolicy{Name: "on-failure", MaxRetries: 3}, PullPolicy: "",
		CapAdd: []string{"CAP_NET_ADMIN"}, ReadOnly: true, ShmSize: 64 << 20,
		Memory: 256 << 20, MemReservation: 512 << 20, NanoCPUs: 5e8, Platform: "linux/arm64",
		ExtraHosts: []string{"db.local:10.0.0.5"}, Tmpfs: map[string]string{"/run": "size=16m"},
		Labels: map[string]string{"com.docker.compose.project.working_dir": "/home/me/app", "tier": "web"},
	}
	pp, err := buildPod("proj-x", spec)
	if err != nil {
		t.Fatal(err)
	}
	pod := pp.pod
	c := pod.Spec.Containers[0]
	switch {
	case strings.Join(c.Command, " ") != "/bin/sh -c" || strings.Join(c.Args, " ") != "exec nginx":
		t.Errorf("command %q args %q", c.Command, c.Args)
	case c.ImagePullPolicy != corev1.PullIfNotPresent:
		t.Errorf("pull policy %s; want IfNotPresent even for :latest", c.ImagePullPolicy)
	case *c.SecurityContext.RunAsUser != 101 || *c.SecurityContext.RunAsGroup != 102 || !*c.SecurityContext.ReadOnlyRootFilesystem:
		t.Errorf("security context %+v", c.SecurityContext)
	case pod.Spec.RestartPolicy != corev1.RestartPolicyOnFailure || *pod.Spec.TerminationGracePeriodSeconds != 10:
		t.Errorf("restart %s, grace %d", pod.Spec.RestartPolicy, *pod.Spec.TerminationGracePeriodSeconds)
	case c.Lifecycle == nil || !strings.Contains(strings.Join(c.Lifecycle.PreStop.Exec.Command, " "), "kill -QUIT -1"):
		t.Errorf("stop signal: %+v", c.Lifecycle)
	case !*pod.Spec.ShareProcessNamespace || *pod.Spec.EnableServiceLinks || *pod.Spec.AutomountServiceAccountToken:
		t.Errorf("pod flags")
	case pod.Spec.NodeSelector[corev1.LabelArchStable] != "arm64":
		t.Errorf("platform: %v", pod.Spec.NodeSelector)
	case c.Resources.Requests.Memory().Value() != 256<<20 || c.Resources.Limits.Cpu().MilliValue() != 500:
		t.Errorf("resources %+v (a request may not exceed its limit)", c.Resources)
	case len(pod.Spec.HostAliases) != 1 || pod.Spec.HostAliases[0].IP != "10.0.0.5":
		t.Errorf("extra hosts %+v", pod.Spec.HostAliases)
	case !gated(pod) || pod.Labels["tier"] != "web" || pod.Labels["com.docker.compose.project.working_dir"] != "":
		t.Errorf("gate or labels %v (a path is not a valid label value: annotation only)", pod.Labels)
	case engineLabels(pod.ObjectMeta)["com.docker.compose.project.working_dir"] != "/home/me/app":
		t.Errorf("engine labels lost")
	}
	if len(validation.IsDNS1123Subdomain(pod.Name)) > 0 {
		t.Errorf("pod name %q", pod.Name)
	}
}
