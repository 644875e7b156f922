package model

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/composegen/composegen/cmd/composegen/internal/diag"
	"github.com/composegen/composegen/templates"
)

// KindNone is the x-composegen kind that says a service has no kind.
const KindNone = "none"

// extension is a service's x-composegen extension.
type extension struct {
	// kind is "" (decided from the image and the command), KindNone or a
	// catalog kind name.
	kind      string
	accessors map[string]string
	// oneshot is the service's declared lifecycle: true for a one-shot (a
	// migration, a seed), false for a long-running service, nil when the
	// generator decides (see lifecycle).
	oneshot *bool
}

var extensionKeys = []string{"kind", "accessors", "oneshot"}

// extension parses the service's x-composegen extension.
func (sb *serviceBuilder) extension() extension {
	var ext extension
	raw, ok := sb.s.Extensions[ExtensionKey]
	if !ok {
		return ext
	}
	name := sb.s.Name
	m, ok := raw.(map[string]any)
	if !ok {
		sb.fail(name, ExtensionKey, "must be a mapping with keys kind, accessors and oneshot")
		return ext
	}
	for _, k := range sortedKeys(m) {
		v := m[k]
		switch k {
		case "kind":
			str, ok := v.(string)
			if !ok || str == "" {
				sb.failHint(name, ExtensionKey+".kind", "use none for a service that runs no server of a known kind",
					"must be a kind name (one of %s)", strings.Join(templates.Kinds(), ", "))
				continue
			}
			ext.kind = sb.t(str)
		case "accessors":
			ext.accessors = sb.accessorTemplates(v)
		case "oneshot":
			b, ok := v.(bool)
			if str, isStr := v.(string); isStr && (str == "true" || str == "false") {
				b, ok = str == "true", true
			}
			if !ok {
				sb.failHint(name, ExtensionKey+".oneshot", "true: it runs once and exits 0, like a migration or a seed, and Start waits for it; false: it keeps running",
					"must be true or false, not %s", describeValue(v))
				continue
			}
			ext.oneshot = &b
		default:
			sb.failHint(name, ExtensionKey+"."+k, diag.DidYouMean(k, extensionKeys), "unknown key %q (known: kind, accessors, oneshot)", k)
		}
	}
	return ext
}

func (sb *serviceBuilder) accessorTemplates(v any) map[string]string {
	am, ok := v.(map[string]any)
	if !ok {
		sb.fail(sb.s.Name, ExtensionKey+".accessors", "must be a mapping of method name to text/template, e.g. JDBC: \"jdbc:postgresql://{{.Addr 5432}}/app\"")
		return nil
	}
	out := map[string]string{}
	for _, an := range sortedKeys(am) {
		tv, ok := am[an].(string)
		if !ok {
			sb.fail(sb.s.Name, ExtensionKey+".accessors."+an, "the template must be a string")
			continue
		}
		out[an] = sb.t(tv)
	}
	return out
}

// describeValue shows a YAML value in an error: strings quoted.
func describeValue(v any) string {
	if s, ok := v.(string); ok {
		return strconv.Quote(s)
	}
	return fmt.Sprintf("%v", v)
}
