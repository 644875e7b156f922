package model

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/template"

	"github.com/composegen/composegen/runtime/composeplan"
	"github.com/composegen/composegen/templates"
)

var reAccessorName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)

// methods names and documents the service type's methods: ports first (a
// port keeps its name unless a fixed method or a kind accessor has it),
// then the kind's accessors (unless an x-composegen accessor replaces one or
// a port it reads is not published), the URL of an HTTP healthcheck, and the
// x-composegen accessors (which may not take a fixed method's or a port's
// name).
func (sb *serviceBuilder) methods() {
	taken := nameSet{}
	for _, m := range FixedMethods {
		taken[m] = true
	}
	kindNames := map[string]bool{}
	if sb.kind != nil {
		for _, a := range sb.kind.Accessors {
			kindNames[a.Name] = true
		}
	}
	ports := sb.portMethods(taken, kindNames)
	user := sb.userAccessors(taken)
	replaced := map[string]bool{}
	for _, m := range user {
		replaced[m.Name] = true
	}
	sb.ms.Methods = append(sb.ms.Methods, ports...)
	sb.ms.Methods = append(sb.ms.Methods, sb.kindAccessors(taken, replaced)...)
	if m, ok := sb.healthcheckURL(taken, replaced); ok {
		sb.ms.Methods = append(sb.ms.Methods, m)
	}
	sb.ms.Methods = append(sb.ms.Methods, user...)
}

func (sb *serviceBuilder) portMethods(taken nameSet, kindNames map[string]bool) []Method {
	var out []Method
	for i, p := range sb.spec.Ports {
		name, named := portMethodName(p)
		if named && (taken[name] || kindNames[name]) {
			name += "Port"
		}
		name = taken.claim(name)
		d := fmt.Sprintf("returns container port %d/%s (%s), published on an ephemeral host port (on the compose file's host port with [runtime.WithFixedPorts]).", p.Target, p.Protocol, oneLine(sb.sources[i]))
		if p.Implicit {
			d = fmt.Sprintf("returns container port %d/%s, the %s, which composegen publishes on an ephemeral host port for the kind's accessors although the compose file does not declare it.", p.Target, p.Protocol, sb.sources[i])
		}
		out = append(out, Method{Kind: PortMethod, Name: name, Doc: d, Port: p.Target, Protocol: p.Protocol})
	}
	return out
}

// userAccessors validates and names the x-composegen accessors, in name
// order; their names are claimed in taken.
func (sb *serviceBuilder) userAccessors(taken nameSet) []Method {
	var out []Method
	for _, key := range sortedKeys(sb.ext.accessors) {
		tmpl := sb.ext.accessors[key]
		field := ExtensionKey + ".accessors." + key
		if !reAccessorName.MatchString(key) {
			sb.fail(sb.s.Name, field, "accessor name %q is not an identifier: use letters, digits and _, starting with a letter", key)
			continue
		}
		name := strings.ToUpper(key[:1]) + key[1:]
		if taken[name] {
			sb.fail(sb.s.Name, field, "accessor %s collides with %s; rename it", name, sb.methodOwner(name))
			continue
		}
		if _, err := template.New(name).Option("missingkey=error").Parse(tmpl); err != nil {
			sb.fail(sb.s.Name, field, "invalid template: %v", err)
			continue
		}
		taken[name] = true
		out = append(out, Method{Kind: UserAccessor, Name: name, Key: key, Template: tmpl,
			Doc: fmt.Sprintf("renders the accessor %s of the x-composegen extension of service %s, the template %s, with the running service.", strconv.Quote(key), strconv.Quote(sb.s.Name), strconv.Quote(tmpl))})
	}
	slices.SortFunc(out, func(a, b Method) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// methodOwner says what already has a method name, for messages.
func (sb *serviceBuilder) methodOwner(name string) string {
	for _, m := range FixedMethods {
		if m == name {
			return "the generated method " + name
		}
	}
	for i, p := range sb.spec.Ports {
		if n, _ := portMethodName(p); n == name {
			return "the port method of " + sb.sources[i]
		}
	}
	return "another method"
}

// kindAccessors lists the kind's accessors that are generated; the others
// get a note in the type's doc saying why.
func (sb *serviceBuilder) kindAccessors(taken nameSet, replaced map[string]bool) []Method {
	k := sb.kind
	if k == nil {
		return nil
	}
	published := map[int]bool{}
	for _, p := range sb.spec.Ports {
		if p.Protocol == "tcp" {
			published[p.Target] = true
		}
	}
	var out []Method
	for _, a := range k.Accessors {
		if replaced[a.Name] {
			sb.ms.Notes = append(sb.ms.Notes, fmt.Sprintf("Its %s method is the x-composegen accessor, which replaces the %s accessor of kind %s.", a.Name, a.Name, k.Name))
			continue
		}
		if missing := missingPort(a.Ports, published); missing != 0 {
			sb.ms.Notes = append(sb.ms.Notes, fmt.Sprintf("The %s accessor of kind %s is not generated: container port %d is not published.", a.Name, k.Name, missing))
			continue
		}
		if a.Result != "string" && a.Result != "[]string" {
			sb.fail(sb.s.Name, "", "internal error: kind %q: accessor %s: unsupported result type %q", k.Name, a.Name, a.Result)
			continue
		}
		name := taken.claim(a.Name, a.Name+"Accessor")
		d := a.Doc
		if a.InNetwork && len(a.Ports) > 0 {
			d += fmt.Sprintf(" The address is %s.", strconv.Quote(fmt.Sprintf("%s:%d", sb.s.Name, a.Ports[0])))
		}
		if name != a.Name {
			d += fmt.Sprintf(" It is the %s accessor of kind %s, renamed because the service already has a method %s.", a.Name, k.Name, a.Name)
		}
		out = append(out, Method{Kind: KindAccessor, Name: name, Doc: d, Func: a.Func, Result: a.Result, PerTest: a.PerTest, InNetwork: a.InNetwork, example: a.Example})
	}
	return out
}

// missingPort returns the first of ports that is not published, 0 if none.
func missingPort(ports []int, published map[int]bool) int {
	for _, p := range ports {
		if !published[p] {
			return p
		}
	}
	return 0
}

// healthcheckURL returns a URL method for a service whose healthcheck
// fetches one of its own published HTTP ports, when it has no URL method.
func (sb *serviceBuilder) healthcheckURL(taken nameSet, replaced map[string]bool) (Method, bool) {
	hc := sb.spec.Healthcheck
	if hc == nil || taken["URL"] || replaced["URL"] {
		return Method{}, false
	}
	port, path, ok := templates.IsHTTPHealthcheck(hc.Test)
	if !ok || !publishes(sb.spec.Ports, port) {
		return Method{}, false
	}
	taken["URL"] = true
	return Method{Kind: HTTPURL, Name: "URL", Port: port, Protocol: "tcp",
		Doc: fmt.Sprintf("returns http://host:port of container port %d, the HTTP port that the service's healthcheck fetches (path %s).", port, oneLine(path))}, true
}

func publishes(ports []composeplan.PortSpec, target int) bool {
	for _, p := range ports {
		if p.Target == target && p.Protocol == "tcp" {
			return true
		}
	}
	return false
}

// exampleDocs completes the doc of the in-network accessors with their Exec
// example, which names the service's Stack field.
func exampleDocs(services []Service) {
	for i := range services {
		s := &services[i]
		for j := range s.Methods {
			m := &s.Methods[j]
			if m.example == "" {
				continue
			}
			call := fmt.Sprintf("stack.%s.%s()", s.TypeName, m.Name)
			m.Doc += fmt.Sprintf(" For example, from a toolbox service of an image with the client (command: sleep infinity): stack.Toolbox.Service().Exec(ctx, %s).", fmt.Sprintf(m.example, call))
			m.example = ""
		}
	}
}
