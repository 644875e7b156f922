package kube

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/composegen/composegen/runtime/engine"
)

// httpd serves "hello from <hostname> <run>" on port 8080, where run
// changes with every start of the container, until /tmp/crash exists.
func (p *project) httpd(service string, aliases ...string) engine.ContainerSpec {
	spec := p.spec(service, "sh", "-c",
		`mkdir -p /www && echo "hello from $(hostname) $(date +%s)-$RANDOM" > /www/index.html && httpd -f -p 8080 -h /www & `+
			`while [ ! -e /tmp/crash ]; do sleep 0.1; done; exit 1`)
	spec.Ports = []engine.PortBinding{{Port: 8080, Protocol: "tcp"}}
	spec.Networks[0].Aliases = append(spec.Networks[0].Aliases, aliases...)
	return spec
}

// fetch gets http://host:8080/ from inside a container.
func (p *project) fetch(id, host string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out strings.Builder
	_, _ = p.eng.Exec(ctx, id, []string{"wget", "-q", "-O", "-", "http://" + host + ":8080/"}, &out, io.Discard)
	return out.String()
}

func TestServicesByComposeName(t *testing.T) {
	t.Parallel()
	p := newProject(t)
	// An underscore name, an upper-case container_name and a name that
	// starts with a digit are not valid Service names.
	web := p.httpd("redis_cache", "Web.Main", "2fa", "web-alias")
	web.Hostname = "webhost"
	p.run(web)
	client := p.run(p.spec("client", "sleep", "300"))
	for _, name := range []string{"redis_cache", "Web.Main", "2fa", "web-alias"} {
		var got string
		if !eventually(30*time.Second, func() bool { got = p.fetch(client, name); return strings.HasPrefix(got, "hello from webhost") }) {
			t.Errorf("GET http://%s:8080/ from another pod = %q; want the page of the container with that name", name, got)
		}
	}
	// A pod with a hosts file of the engine's own (redis_cache can be
	// neither a Service nor a hostAliases entry) still resolves its own
	// host name, through DNS.
	if pod, err := p.eng.getPod(p.ctx(), client); err != nil || pod.Spec.Subdomain != podsService {
		t.Fatalf("client pod %v: want a hosts file of the engine's own", err)
	}
	if code, out, errs := p.exec(client, "sh", "-c", "ping -c 1 -W 5 $(hostname)"); code != 0 {
		t.Errorf("the client cannot resolve its own host name: %s%s", out, errs)
	}
	// The valid name resolves to the pod itself: any port is reachable,
	// as on a compose network, not only the declared ones.
	_, out, _ := p.exec(client, "nslookup", "web-alias")
	if !strings.Contains(out, "Address") {
		t.Errorf("nslookup web-alias: %q", out)
	}
}

func TestPortForwardSurvivesRestarts(t *testing.T) {
	t.Parallel()
	p := newProject(t)
	spec := p.httpd("web")
	spec.Restart = engine.RestartPolicy{Name: "always"}
	id := p.run(spec)
	st := p.inspect(id)
	hp, ok := st.Ports[engine.PortKey{Port: 8080, Protocol: "tcp"}]
	if !ok || hp.IP != "127.0.0.1" || hp.Port == 0 {
		t.Fatalf("published ports %+v; want 8080/tcp on 127.0.0.1", st.Ports)
	}
	addr := net.JoinHostPort(hp.IP, strconv.Itoa(hp.Port))
	first := get(t, addr, "")
	// Recreated pod (Stop, Start): same host port, the new container.
	if err := p.eng.Stop(p.ctx(), id, time.Second); err != nil {
		t.Fatal(err)
	}
	if err := p.eng.Start(p.ctx(), id); err != nil {
		t.Fatal(err)
	}
	if st := p.inspect(id); st.Ports[engine.PortKey{Port: 8080, Protocol: "tcp"}] != hp {
		t.Errorf("after Stop and Start, ports %+v; want %v kept", st.Ports, hp)
	}
	second := get(t, addr, first)
	// Container restarted by its policy in the same pod.
	p.exec(id, "touch", "/tmp/crash") // it exits 1: the kubelet restarts it
	get(t, addr, second)
	var st2 engine.State
	if !eventually(30*time.Second, func() bool { st2 = p.inspect(id); return st2.RestartCount >= 1 && st2.Running }) {
		t.Errorf("state %+v; want running after a restart", st2)
	}
}

// get fetches http://addr/ until it answers with a page other than not,
// within 60s.
func get(t *testing.T, addr, not string) string {
	t.Helper()
	var body string
	ok := eventually(60*time.Second, func() bool {
		resp, err := http.Get("http://" + addr + "/")
		if err != nil {
			body = err.Error()
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		body = string(b)
		return strings.HasPrefix(body, "hello from") && body != not
	})
	if !ok {
		t.Fatalf("GET http://%s/ = %q; want a page other than %q", addr, body, not)
	}
	return body
}

func TestPortForwardClosesWhenNothingListens(t *testing.T) {
	t.Parallel()
	p := newProject(t)
	spec := p.spec("quiet", "sleep", "300")
	spec.Ports = []engine.PortBinding{{Port: 9999, Protocol: "tcp"}}
	id := p.run(spec)
	hp := p.inspect(id).Ports[engine.PortKey{Port: 9999, Protocol: "tcp"}]
	for i := range 5 {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", hp.Port))
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err = c.Read(make([]byte, 1))
		c.Close()
		d := time.Since(start)
		if err == nil || d > 2*time.Second {
			t.Errorf("connection %d to a port nothing listens on: read %v after %v; want it closed at once", i, err, d)
		}
		t.Logf("closed after %v", d)
	}
}
