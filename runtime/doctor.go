package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/composegen/composegen/internal/adminhook"
	"github.com/composegen/composegen/runtime/composeplan"
	"github.com/composegen/composegen/runtime/engine"
	"github.com/composegen/composegen/runtime/internal/engines"
)

func init() {
	adminhook.Impl.Doctor = doctor
	adminhook.Impl.Prune = prune
}

// doctor is admin.Doctor.
func doctor(ctx context.Context, opts adminhook.DoctorOptions) []adminhook.Finding {
	var out []adminhook.Finding
	add := func(check, level, format string, args ...any) {
		out = append(out, adminhook.Finding{Check: check, Level: level, Detail: fmt.Sprintf(format, args...)})
	}
	eng, err := engines.Open(ctx, opts.Engine)
	if err != nil {
		hint := "start the engine, or point DOCKER_HOST (or a docker context, or COMPOSEGEN_ENGINE) at one that runs"
		if !errors.Is(err, engines.ErrUnavailable) {
			hint = "select an engine this binary links (COMPOSEGEN_ENGINE, -engine)"
		}
		add("engine", "problem", "%v; %s", err, hint)
		return out
	}
	info := eng.Info()
	where := info.Endpoint
	if info.From != "" {
		where += ", chosen by " + info.From
	}
	var traits []string
	if info.Rootless {
		traits = append(traits, "rootless")
	}
	if info.Local {
		traits = append(traits, "local")
	} else {
		traits = append(traits, "remote: ports are dialled on "+info.DialHost)
	}
	add("engine", "ok", "%s %s (API %s) at %s; %s", info.Name, info.Version, info.API, where, strings.Join(traits, ", "))

	if d, err := roundTrip(ctx, opts); err != nil {
		add("round trip", "problem", "%v", err)
	} else {
		add("round trip", "ok", "created a container, published a port and got its answer from this process in %s", d.Round(time.Millisecond))
	}

	if info.Name == "podman" && info.Local {
		if f, ok := podmanDNS(ctx, eng, aardvarkDir(info.Rootless)); ok {
			out = append(out, f)
		}
	}

	for _, ref := range opts.Images {
		switch _, err := eng.Image(ctx, ref); {
		case err == nil:
			add("image "+ref, "ok", "present")
		case errors.Is(err, engine.ErrNotFound):
			add("image "+ref, "warning", "not present: the first start pulls it (where pulls are blocked, load it into the engine first)")
		default:
			add("image "+ref, "problem", "cannot inspect it: %v", err)
		}
	}
	return out
}

// aardvarkDir is where Podman's netavark keeps one aardvark-dns
// configuration per network that has running containers.
func aardvarkDir(rootless bool) string {
	if !rootless {
		return "/run/containers/networks/aardvark-dns"
	}
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		return filepath.Join(d, "containers", "networks", "aardvark-dns")
	}
	return ""
}

// podmanDNS reports the aardvark-dns configurations of networks that no
// longer exist: Podman leaves them (and the network's bridge) when it
// cannot tear a container's network down, and aardvark-dns 1.4 (Podman
// 4.3) stops and binds again every network's listener at each container
// start and stop, so name lookups in containers fail now and then.
func podmanDNS(ctx context.Context, eng engine.Engine, dir string) (adminhook.Finding, bool) {
	const check = "podman dns"
	if dir == "" {
		return adminhook.Finding{}, false
	}
	files, err := os.ReadDir(dir)
	if err != nil {
		return adminhook.Finding{}, false // none yet, or not ours to read
	}
	rs, err := eng.List(ctx, nil)
	if err != nil {
		return adminhook.Finding{Check: check, Level: "warning", Detail: fmt.Sprintf("cannot list the networks: %v", err)}, true
	}
	networks := map[string]bool{}
	for _, r := range rs {
		if r.Kind == engine.KindNetwork {
			networks[r.Name] = true
		}
	}
	stale := staleDNS(dir, files, networks)
	if len(stale) == 0 {
		return adminhook.Finding{Check: check, Level: "ok", Detail: "aardvark-dns serves only networks that exist"}, true
	}
	names := stale
	if len(names) > 3 {
		names = append(names[:3:3], "…")
	}
	return adminhook.Finding{Check: check, Level: "warning", Detail: fmt.Sprintf(
		"aardvark-dns still serves networks that no longer exist (%d in %s: %s), and their bridges still hold addresses of Podman's subnets: "+
			"Podman 4's aardvark-dns reloads every network at each container start and stop, so name lookups in containers fail now and then (\"Name or service not known\"). "+
			"They are left when a container is removed before the containers that share its namespaces. "+
			"Remove them as composegen's docs/troubleshooting.md shows",
		len(stale), dir, strings.Join(names, ", "))}, true
}

// staleDNS returns, sorted, the aardvark-dns configurations among files
// whose network is not in networks and that are still there.
func staleDNS(dir string, files []os.DirEntry, networks map[string]bool) []string {
	var stale []string
	for _, f := range files {
		name := f.Name()
		if f.IsDir() || name == "aardvark.pid" || networks[name] {
			continue
		}
		// A network removed since the directory was read took its file.
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			continue
		}
		stale = append(stale, name)
	}
	sort.Strings(stale)
	return stale
}

// roundTrip starts a one-service stack that serves HTTP and fetches a page
// from it through the published port.
func roundTrip(ctx context.Context, opts adminhook.DoctorOptions) (time.Duration, error) {
	image := opts.RoundTripImage
	if image == "" {
		image = "busybox"
	}
	plan := &composeplan.Plan{Name: "composegen-doctor", Services: []composeplan.ServiceSpec{{
		Name:    "web",
		Image:   image,
		Command: []string{"sh", "-c", "mkdir -p /tmp/www && echo composegen-doctor > /tmp/www/index.html && exec httpd -f -p 8080 -h /tmp/www"},
		Ports:   []composeplan.PortSpec{{Target: 8080, Protocol: "tcp"}},
		Probe:   &composeplan.ProbeSpec{Protocol: "http", Port: 8080, Path: "/"},
	}}}
	t0 := time.Now()
	s, err := Up(ctx, plan, WithEngine(opts.Engine), WithTimeout(90*time.Second))
	if err != nil {
		return 0, fmt.Errorf("a stack of one %s container did not start: %w", image, err)
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		_ = s.Down(dctx)
	}()
	url := s.Service("web").Port(8080, "tcp").URL() + "/"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("the container runs, but its published port does not answer from this process (%s): %w", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
	if !strings.Contains(string(body), "composegen-doctor") {
		return 0, fmt.Errorf("%s answered %s with something else than the container's page: another process holds the port?", url, resp.Status)
	}
	return time.Since(t0), nil
}
