package kube

import (
	"fmt"
	"strings"

	"github.com/composegen/composegen/runtime/engine"
)

// refusal is a compose setting that cannot work on a cluster.
type refusal struct {
	field string
	why   string
}

// refusals lists what a container spec asks that a pod cannot do. The
// settings that map are mapped (see the package documentation); none is
// dropped silently.
func refusals(spec *engine.ContainerSpec) []refusal {
	var out []refusal
	add := func(cond bool, field, why string) {
		if cond {
			out = append(out, refusal{field, why})
		}
	}
	add(spec.NetworkMode != "", "network_mode", fmt.Sprintf("%q: a pod has its own network; the services of a stack share the namespace's and reach each other by name", spec.NetworkMode))
	add(spec.PidMode != "", "pid", fmt.Sprintf("%q: a pod cannot join the host's or another container's process namespace", spec.PidMode))
	add(spec.IpcMode != "" && spec.IpcMode != "private" && spec.IpcMode != "shareable", "ipc", fmt.Sprintf("%q: a pod cannot join the host's or another container's IPC namespace", spec.IpcMode))
	add(len(spec.VolumesFrom) > 0, "volumes_from", "a pod cannot mount another pod's volumes")
	add(len(spec.Devices) > 0, "devices", "host devices of the test machine do not exist on the cluster's nodes")
	add(spec.UsernsMode != "", "userns_mode", "a pod cannot choose its user namespace this way")
	add(spec.CgroupParent != "", "cgroup_parent", "the kubelet places pods in its own cgroups")
	add(len(spec.Ulimits) > 0, "ulimits", "Kubernetes cannot set a container's ulimits (they are the node's container runtime's defaults)")
	add(spec.OomKillDisable, "oom_kill_disable", "Kubernetes cannot disable the OOM killer for a container")
	add(spec.OomScoreAdj != 0, "oom_score_adj", "the kubelet sets a container's OOM score from its QoS class")
	add(spec.PidsLimit > 0, "pids_limit", "Kubernetes limits pids per pod only through the kubelet's configuration")
	add(spec.MemSwap != 0 && spec.MemSwap != -1 && spec.MemSwap != spec.Memory, "memswap_limit", "Kubernetes cannot set a container's swap limit")
	for _, p := range spec.Ports {
		add(p.Protocol == "udp", "ports", fmt.Sprintf("%d/udp: a port-forward carries TCP only, so a UDP port cannot be reached from the test process", p.Port))
	}
	for _, h := range spec.ExtraHosts {
		add(strings.HasSuffix(h, "host-gateway"), "extra_hosts", fmt.Sprintf("%q: a pod has no gateway to the test machine", h))
	}
	for _, o := range spec.SecurityOpt {
		if _, ok := securityOpt(o); !ok {
			out = append(out, refusal{"security_opt", fmt.Sprintf("%q has no Kubernetes equivalent (supported: no-new-privileges, seccomp:unconfined, apparmor:unconfined)", o)})
		}
	}
	return out
}

// refuse returns the error for a spec's refusals, nil if there are none.
func refuse(spec *engine.ContainerSpec, more []refusal) error {
	all := append(refusals(spec), more...)
	if len(all) == 0 {
		return nil
	}
	parts := make([]string, len(all))
	for i, r := range all {
		parts[i] = r.field + ": " + r.why
	}
	return fmt.Errorf("service %q cannot run on Kubernetes: %s", serviceName(spec), strings.Join(parts, "; "))
}

func serviceName(spec *engine.ContainerSpec) string {
	if spec.Service != "" {
		return spec.Service
	}
	return spec.Name
}
