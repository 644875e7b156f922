package model

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
)

var localListener = regexp.MustCompile(`(?:localhost|127\.0\.0\.1):([0-9]+)`)

// advertised marks the published ports that a broker (a kind with
// Advertises, such as Kafka) advertises to its clients as
// localhost:<published port>, so that the runtime can pick a free host port
// for them and rewrite the advertised address; and warns when no advertised
// listener can work from the host, because then Brokers() hands out
// addresses a client on the host cannot follow.
func (sb *serviceBuilder) advertised() {
	service, kind, spec := sb.s.Name, sb.kind, &sb.spec
	b := sb.builder
	if kind == nil || len(kind.Advertises) == 0 {
		return
	}
	type source struct{ field, value string }
	var sources []source
	for _, e := range spec.Environment {
		if !e.FromEnv && containsString(kind.Advertises, e.Name) {
			sources = append(sources, source{e.Name, e.Value})
		}
	}
	if containsString(kind.Advertises, "command") && len(spec.Command) > 0 {
		sources = append(sources, source{"command", strings.Join(spec.Command, " ")})
	}
	found := false
	for _, src := range sources {
		for _, m := range localListener.FindAllStringSubmatch(src.value, -1) {
			idx := -1
			for i, p := range spec.Ports {
				if p.Published == m[1] && p.Protocol == "tcp" {
					idx = i
				}
			}
			if idx < 0 {
				b.warnWith(service, "ports", "add "+strconv.Quote(m[1]+":"+m[1])+" for Brokers() to work",
					"The broker advertises "+m[0]+" in "+src.field+", but no ports entry publishes host port "+m[1]+": add "+strconv.Quote(m[1]+":"+m[1])+" so that Brokers() works from the host; composegen binds a free host port for it at start and rewrites the advertised address.",
					"advertises %s, not published", m[0])
				continue
			}
			if !containsString(spec.Ports[idx].Advertised, src.field) {
				spec.Ports[idx].Advertised = append(spec.Ports[idx].Advertised, src.field)
			}
			found = true
		}
	}
	if !found {
		b.warnWith(service, "environment", "add PLAINTEXT_HOST://localhost:9092, publish it",
			"Brokers() will not work from the host: the broker advertises no listener as localhost:<port> (in "+strings.Join(kind.Advertises, ", ")+"); add one, e.g. PLAINTEXT_HOST://localhost:9092, and publish that port (ports: [\"9092:9092\"]); composegen binds a free host port for it at start and rewrites the advertised address.",
			"no localhost listener for Brokers()")
	}
}

func containsString(list []string, s string) bool { return slices.Contains(list, s) }
