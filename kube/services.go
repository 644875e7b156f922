package kube

import (
	"context"
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/composegen/composegen/runtime/engine"
)

// labelHostAlias marks the Services whose name is not a valid DNS name:
// pods reach them through a hostAliases entry for their ClusterIP.
const labelHostAlias = "kube.composegen.io/host-alias"

// alias is a name under which other pods reach a container: its service
// name, container_name, network aliases and the aliases of legacy links.
type alias struct {
	name     string
	selector map[string]string
}

// aliasesOf returns the names of a container's attachments (its own, which
// select it by its alias label) and of its links (which select the linked
// container's pod).
func aliasesOf(spec *engine.ContainerSpec) []alias {
	seen := map[string]bool{}
	var out []alias
	addAlias := func(name string, sel map[string]string) {
		if name != "" && !seen[name] {
			seen[name] = true
			out = append(out, alias{name, sel})
		}
	}
	for _, a := range spec.Networks {
		for _, n := range a.Aliases {
			addAlias(n, map[string]string{aliasLabel(n): "true"})
		}
	}
	for _, a := range spec.Networks {
		for _, l := range a.Links {
			target, name, ok := cutLast(l, ":")
			if ok {
				addAlias(name, map[string]string{labelPod: dnsLabel(target)})
			}
		}
	}
	return out
}

func cutLast(s, sep string) (before, after string, ok bool) {
	for i := len(s) - len(sep); i >= 0; i-- {
		if s[i:i+len(sep)] == sep {
			return s[:i], s[i+len(sep):], true
		}
	}
	return s, "", false
}

// ensureServices creates the Services of a container's aliases. A valid
// DNS name gets a headless Service (its DNS name resolves to the pods'
// addresses, every port reachable, as on a compose network); any other
// name (redis_cache, 2fa, Web) gets a ClusterIP Service under a valid
// name, for the declared ports, and pods get a hostAliases entry for it.
func (e *Engine) ensureServices(ctx context.Context, ns string, aliases []alias, ports []engine.PortBinding) error {
	for _, a := range aliases {
		svc := aliasService(a, ports)
		if svc == nil {
			continue
		}
		_, err := e.cs.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create the Service for name %q: %w", a.name, err)
		}
	}
	return nil
}

// aliasService returns the Service of an alias, nil when it cannot have
// one (an invalid DNS name without declared ports).
func aliasService(a alias, ports []engine.PortBinding) *corev1.Service {
	meta := metav1.ObjectMeta{
		Name:        a.name,
		Labels:      map[string]string{labelManagedBy: managedBy, labelKind: kindAlias},
		Annotations: map[string]string{annotationName: a.name},
	}
	spec := corev1.ServiceSpec{Selector: a.selector, PublishNotReadyAddresses: true}
	if len(validation.IsDNS1035Label(a.name)) == 0 {
		spec.ClusterIP = corev1.ClusterIPNone
		return &corev1.Service{ObjectMeta: meta, Spec: spec}
	}
	for _, p := range ports {
		if p.Protocol == "tcp" || p.Protocol == "" {
			spec.Ports = append(spec.Ports, corev1.ServicePort{
				Name: fmt.Sprintf("tcp-%d", p.Port), Port: int32(p.Port), TargetPort: intstr.FromInt32(int32(p.Port)), Protocol: corev1.ProtocolTCP,
			})
		}
	}
	if len(spec.Ports) == 0 {
		return nil
	}
	meta.Name = dns1035(a.name)
	meta.Labels[labelHostAlias] = "true"
	return &corev1.Service{ObjectMeta: meta, Spec: spec}
}

// hostEntry is a name that pods resolve through their hosts file.
type hostEntry struct {
	IP, Name string
}

// aliasHosts returns the addresses of the Services whose name is not a
// valid DNS name, by name.
func (e *Engine) aliasHosts(ctx context.Context, ns string) ([]hostEntry, error) {
	list, err := e.cs.CoreV1().Services(ns).List(ctx, metav1.ListOptions{LabelSelector: labelHostAlias + "=true"})
	if err != nil {
		return nil, fmt.Errorf("list the Services of namespace %s: %w", ns, err)
	}
	var out []hostEntry
	for _, s := range list.Items {
		if ip := s.Spec.ClusterIP; ip != "" && ip != corev1.ClusterIPNone {
			out = append(out, hostEntry{ip, s.Annotations[annotationName]})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}
