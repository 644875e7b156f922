package kube

import (
	"encoding/json"
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Labels and annotations of the objects the engine creates. The engine's
// labels (compose's, composegen's owner labels, the user's) are kept whole
// in annotationLabels; those that are valid Kubernetes labels are also set
// as labels, so that List selects on the server.
const (
	labelManagedBy   = "app.kubernetes.io/managed-by"
	managedBy        = "composegen"
	labelKind        = "kube.composegen.io/kind" // kind* below
	labelPod         = "kube.composegen.io/pod"  // the pod a mount or link alias belongs to
	labelName        = "kube.composegen.io/name" // hash of a network's or volume's name
	aliasLabelDomain = "alias.kube.composegen.io/"

	annotationLabels = "kube.composegen.io/labels"
	annotationName   = "kube.composegen.io/name"
	annotationPorts  = "kube.composegen.io/ports"
	annotationLast   = "kube.composegen.io/last-state"
	annotationClaim  = "kube.composegen.io/claimed-by"
	annotationStop   = "kube.composegen.io/stop-signal"
)

// Kinds of object (labelKind).
const (
	kindContainer = "container"
	kindNetwork   = "network"
	kindVolume    = "volume"
	kindMount     = "mount"
	kindAlias     = "alias"
)

// objectMeta returns the metadata of an object of kind that carries the
// engine's labels l and is named name (its engine name, kept as an
// annotation: Kubernetes names are restricted).
func objectMeta(objName, kind, name string, l map[string]string) metav1.ObjectMeta {
	m := metav1.ObjectMeta{
		Name:        objName,
		Labels:      map[string]string{labelManagedBy: managedBy, labelKind: kind},
		Annotations: map[string]string{annotationName: name},
	}
	for k, v := range l {
		if validLabel(k, v) {
			m.Labels[k] = v
		}
	}
	b, _ := json.Marshal(l)
	m.Annotations[annotationLabels] = string(b)
	return m
}

// validLabel reports whether k=v can be a Kubernetes label that is not one
// of the engine's own.
func validLabel(k, v string) bool {
	if strings.Contains(k, "kube.composegen.io/") || k == labelManagedBy {
		return false
	}
	return len(validation.IsQualifiedName(k)) == 0 && len(validation.IsValidLabelValue(v)) == 0
}

// engineLabels returns the engine's labels of an object.
func engineLabels(m metav1.ObjectMeta) map[string]string {
	l := map[string]string{}
	if s, ok := m.Annotations[annotationLabels]; ok {
		_ = json.Unmarshal([]byte(s), &l)
	}
	return l
}

// selector selects the objects of kinds that carry every filter label that
// Kubernetes can select on; matches checks the rest.
func selector(filter map[string]string, kinds ...string) string {
	set := labels.Set{labelManagedBy: managedBy}
	for k, v := range filter {
		if validLabel(k, v) {
			set[k] = v
		}
	}
	sel := set.String()
	if len(kinds) > 0 {
		sort.Strings(kinds)
		sel += "," + labelKind + " in (" + strings.Join(kinds, ",") + ")"
	}
	return sel
}

// matches reports whether have holds every label of filter.
func matches(have, filter map[string]string) bool {
	for k, v := range filter {
		if got, ok := have[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// aliasLabel is the pod label that a Service for a network alias selects.
func aliasLabel(alias string) string {
	if len(validation.IsQualifiedName(aliasLabelDomain+alias)) == 0 {
		return aliasLabelDomain + alias
	}
	return aliasLabelDomain + "h-" + shortHash(alias)
}
