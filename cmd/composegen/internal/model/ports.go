package model

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/composegen/composegen/cmd/composegen/internal/load"
	"github.com/composegen/composegen/cmd/composegen/internal/naming"
	"github.com/composegen/composegen/runtime/composeplan"
)

// ports fills spec.Ports and their sources: ports (each range already
// expanded by compose-go), then expose, then the kind's default ports,
// deduplicated by (target, protocol).
func (sb *serviceBuilder) ports() {
	type key struct {
		target int
		proto  string
	}
	seen := map[key]bool{}
	add := func(p composeplan.PortSpec, source string) {
		if p.Protocol == "" {
			p.Protocol = "tcp"
		}
		k := key{p.Target, p.Protocol}
		if seen[k] {
			return
		}
		seen[k] = true
		sb.spec.Ports = append(sb.spec.Ports, p)
		sb.sources = append(sb.sources, source)
	}
	for _, pc := range sb.s.Ports {
		p := composeplan.PortSpec{
			Name: sb.t(pc.Name), Target: int(pc.Target), Protocol: strings.ToLower(sb.t(pc.Protocol)),
			Published: sb.t(pc.Published), HostIP: sb.t(pc.HostIP), AppProtocol: sb.t(pc.AppProtocol),
		}
		add(p, portSource(p))
	}
	for i, e := range sb.s.Expose {
		e = sb.t(e)
		portPart, proto, _ := strings.Cut(e, "/")
		lo, hi, err := portRange(portPart)
		if err != nil {
			sb.fail(sb.s.Name, fmt.Sprintf("expose[%d]", i), "invalid port %q: %v", e, err)
			continue
		}
		if proto == "" {
			proto = "tcp"
		}
		for port := lo; port <= hi; port++ {
			add(composeplan.PortSpec{Target: port, Protocol: strings.ToLower(proto), Expose: true}, "expose: "+e)
		}
	}
	if sb.kind != nil {
		for _, port := range sb.kind.Ports {
			add(composeplan.PortSpec{Target: port, Protocol: "tcp", Implicit: true}, "default port of kind "+sb.kind.Name)
		}
	}
}

// portSource describes a ports entry for the port method's doc.
func portSource(p composeplan.PortSpec) string {
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
	return src
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
	if hi-lo+1 > load.MaxPortRange {
		return 0, 0, fmt.Errorf("a range of %d ports (composegen refuses ranges of more than %d)", hi-lo+1, load.MaxPortRange)
	}
	return lo, hi, nil
}

// portMethodName is the method name a port would like: its long-syntax
// name ("HTTP"), else "Port5432" / "Port53UDP".
func portMethodName(p composeplan.PortSpec) (name string, named bool) {
	if p.Name != "" {
		return naming.Exported(p.Name, "Port"), true
	}
	m := "Port" + strconv.Itoa(p.Target)
	if p.Protocol != "tcp" {
		m += strings.ToUpper(p.Protocol)
	}
	return m, false
}
