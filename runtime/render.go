package runtime

import (
	"fmt"
	"github.com/composegen/composegen/runtime/internal/access"
	"strings"
	"sync"
	"text/template"
)

// renderData is what a user-defined accessor template (x-composegen
// accessors) sees: {{.Host}}, {{.Port 8080}} (the host port of container
// port 8080), {{.Addr 8080}} (host:port), {{.Env "NAME"}} and
// {{.InternalAddr 8080}}.
type renderData struct{ s *replica }

// Host is the host on which ports are published.
func (d renderData) Host() string { return d.s.Host() }

// Port returns the host port of container port target (tcp).
func (d renderData) Port(target int) int { return d.s.Port(target, "tcp").HostPort }

// Addr returns host:port of container port target (tcp).
func (d renderData) Addr(target int) string { return d.s.Port(target, "tcp").Addr() }

// Env returns the service's resolved environment variable.
func (d renderData) Env(name string) string { return d.s.Env(name) }

// InternalAddr returns service:port for other containers of the stack.
func (d renderData) InternalAddr(target int) string { return d.s.InternalAddr(target) }

func init() {
	access.Plumbing = func(s any) access.Replica { return s.(*Service).r }
}

var renderCache sync.Map // template text → *template.Template

// Render executes a user-defined accessor template (validated at
// generation time) with the service's renderData. It panics if the template
// fails, which means the compose file's accessor refers to something the
// service does not have.
func (s *replica) Render(name, tmpl string) string {
	t, ok := renderCache.Load(tmpl)
	if !ok {
		parsed, err := template.New(name).Option("missingkey=error").Parse(tmpl)
		if err != nil {
			panic(fmt.Sprintf("composegen: service %q: accessor %s: %v", s.spec.Name, name, err))
		}
		t, _ = renderCache.LoadOrStore(tmpl, parsed)
	}
	var b strings.Builder
	if err := t.(*template.Template).Execute(&b, renderData{s}); err != nil {
		panic(fmt.Sprintf("composegen: service %q: accessor %s: %v", s.spec.Name, name, err))
	}
	return b.String()
}
