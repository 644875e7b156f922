package kube

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/composegen/composegen/runtime/engine"
)

// dnsLabel turns name into a DNS-1123 label (lowercase letters, digits and
// '-', at most 63 bytes, alphanumeric at both ends). A name that had to be
// changed gets a short hash of the original, so that "a_b" and "a-b" stay
// apart.
func dnsLabel(name string) string {
	if len(validation.IsDNS1123Label(name)) == 0 {
		return name
	}
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	s := strings.Trim(b.String(), "-")
	h := shortHash(name)
	if len(s) > 63-len(h)-1 {
		s = strings.TrimRight(s[:63-len(h)-1], "-")
	}
	if s == "" {
		return "x-" + h
	}
	return s + "-" + h
}

// dns1035 turns name into a Service name (a DNS-1035 label: it also starts
// with a letter).
func dns1035(name string) string {
	s := dnsLabel(name)
	if s[0] >= '0' && s[0] <= '9' {
		s = dnsLabel("s-" + name)
	}
	return s
}

func shortHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:4])
}

// namespaceOf returns the namespace of a compose project.
func namespaceOf(project string) string { return dnsLabel(project) }

// containerID joins a pod's namespace and name into the id the engine
// hands out.
func containerID(ns, pod string) string { return ns + "/" + pod }

// splitID splits an id of containerID; a malformed id is not found.
func splitID(id string) (ns, pod string, err error) {
	ns, pod, ok := strings.Cut(id, "/")
	if !ok || len(validation.IsDNS1123Label(ns)) > 0 || len(validation.IsDNS1123Subdomain(pod)) > 0 {
		return "", "", fmt.Errorf("container %q: %w", id, engine.ErrNotFound)
	}
	return ns, pod, nil
}
