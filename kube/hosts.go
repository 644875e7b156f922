package kube

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
)

// How pods resolve the names that Kubernetes DNS cannot serve.
//
// A name that is not a valid Service name but is a valid host name (Web,
// 2fa, web.main) is a hostAliases entry for the ClusterIP of its Service.
// A name that is not even a host name (redis_cache: Kubernetes allows no
// underscore in either) needs a hosts file of the engine's own: the pod
// gets a ConfigMap mounted at /etc/hosts, with localhost, its extra_hosts
// and every such name. The kubelet then no longer writes the pod's own
// name into /etc/hosts, so the pod joins the headless Service podsService
// under its hostname, which resolves through DNS instead.
//
// Names are resolved when a pod is created or started: a name whose
// container is created later is not in the hosts file of a pod started
// before (a service that depends_on another is created after it).
const (
	annotationHosts = "kube.composegen.io/hosts"
	hostsVolume     = "composegen-hosts"
	podsService     = "composegen-pods"
)

// hostsConfig is what a pod needs to resolve names.
type hostsConfig struct {
	Extra   []corev1.HostAlias `json:"extra,omitempty"` // extra_hosts
	Entries []hostEntry        `json:"entries,omitempty"`
}

// needsFile reports whether some name cannot be a hostAliases entry.
func (h hostsConfig) needsFile() bool {
	for _, e := range h.Entries {
		if len(validation.IsDNS1123Subdomain(strings.ToLower(e.Name))) > 0 {
			return true
		}
	}
	for _, a := range h.Extra {
		for _, n := range a.Hostnames {
			if len(validation.IsDNS1123Subdomain(n)) > 0 {
				return true
			}
		}
	}
	return false
}

// file returns the content of the hosts file.
func (h hostsConfig) file() string {
	var b strings.Builder
	b.WriteString("# composegen: names of the stack that Kubernetes DNS cannot serve\n")
	b.WriteString("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n")
	b.WriteString("fe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n")
	for _, a := range h.Extra {
		fmt.Fprintf(&b, "%s\t%s\n", a.IP, strings.Join(a.Hostnames, " "))
	}
	for _, e := range h.Entries {
		fmt.Fprintf(&b, "%s\t%s\n", e.IP, e.Name)
	}
	return b.String()
}

// hostsOf returns the pod's current names to resolve.
func (e *Engine) hostsOf(ctx context.Context, p *corev1.Pod) (hostsConfig, error) {
	var h hostsConfig
	_ = json.Unmarshal([]byte(p.Annotations[annotationHosts]), &h)
	entries, err := e.aliasHosts(ctx, p.Namespace)
	h.Entries = entries
	return h, err
}

// applyHosts makes pod resolve the names of h (see above), creating its
// hosts file's ConfigMap when it needs one.
func (e *Engine) applyHosts(ctx context.Context, p *corev1.Pod, h hostsConfig) error {
	stripHosts(p)
	b, _ := json.Marshal(h)
	p.Annotations[annotationHosts] = string(b)
	if !h.needsFile() {
		p.Spec.HostAliases = append([]corev1.HostAlias(nil), h.Extra...)
		for _, en := range h.Entries {
			p.Spec.HostAliases = append(p.Spec.HostAliases, corev1.HostAlias{IP: en.IP, Hostnames: []string{strings.ToLower(en.Name)}})
		}
		return nil
	}
	if err := e.ensurePodsService(ctx, p.Namespace); err != nil {
		return err
	}
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: p.Name + "-hosts", Labels: map[string]string{labelManagedBy: managedBy, labelKind: kindMount, labelPod: p.Name}},
		Data:       map[string]string{"hosts": h.file()},
	}
	if err := e.putConfigMap(ctx, p.Namespace, cm); err != nil {
		return fmt.Errorf("create the hosts file of pod %s: %w", p.Name, err)
	}
	p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: hostsVolume, VolumeSource: corev1.VolumeSource{
		ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: cm.Name}},
	}})
	c := &p.Spec.Containers[0]
	c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: hostsVolume, MountPath: "/etc/hosts", SubPath: "hosts", ReadOnly: true})
	if p.Spec.Hostname == "" {
		p.Spec.Hostname = p.Name
	}
	p.Spec.Subdomain = podsService
	if p.Spec.DNSConfig == nil {
		p.Spec.DNSConfig = &corev1.PodDNSConfig{}
	}
	p.Spec.DNSConfig.Searches = append(p.Spec.DNSConfig.Searches, podsService+"."+p.Namespace+".svc.cluster.local")
	return nil
}

// stripHosts removes what applyHosts added to a pod.
func stripHosts(p *corev1.Pod) {
	if p.Spec.Subdomain != podsService {
		return
	}
	p.Spec.Subdomain = ""
	if p.Spec.Hostname == p.Name {
		p.Spec.Hostname = ""
	}
	var vols []corev1.Volume
	for _, v := range p.Spec.Volumes {
		if v.Name != hostsVolume {
			vols = append(vols, v)
		}
	}
	p.Spec.Volumes = vols
	c := &p.Spec.Containers[0]
	var mounts []corev1.VolumeMount
	for _, m := range c.VolumeMounts {
		if m.Name != hostsVolume {
			mounts = append(mounts, m)
		}
	}
	c.VolumeMounts = mounts
	if dc := p.Spec.DNSConfig; dc != nil && len(dc.Searches) > 0 {
		dc.Searches = dc.Searches[:len(dc.Searches)-1]
		if len(dc.Searches)+len(dc.Nameservers)+len(dc.Options) == 0 {
			p.Spec.DNSConfig = nil
		}
	}
}

// ensurePodsService creates the headless Service that gives pods with a
// hosts file of their own a DNS name for their hostname.
func (e *Engine) ensurePodsService(ctx context.Context, ns string) error {
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: podsService, Labels: map[string]string{labelManagedBy: managedBy, labelKind: kindAlias}},
		Spec: corev1.ServiceSpec{
			ClusterIP: corev1.ClusterIPNone, PublishNotReadyAddresses: true,
			Selector: map[string]string{labelManagedBy: managedBy, labelKind: kindContainer},
		},
	}
	_, err := e.cs.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create Service %s: %w", podsService, err)
	}
	return nil
}

// putConfigMap creates or replaces a ConfigMap.
func (e *Engine) putConfigMap(ctx context.Context, ns string, cm *corev1.ConfigMap) error {
	_, err := e.cs.CoreV1().ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		_, err = e.cs.CoreV1().ConfigMaps(ns).Update(ctx, cm, metav1.UpdateOptions{})
	}
	return notFound(err)
}
