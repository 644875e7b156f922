package runtime

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/ory/dockertest/v3"
	docker "github.com/ory/dockertest/v3/docker"
)

// engine is the process-wide connection to the Docker (or Podman) engine.
// Everything the runtime does with containers goes through it, so that the
// dockertest dependency stays behind this file and its siblings.
type engine struct {
	c *docker.Client
	// endpoint is the engine's address, for messages.
	endpoint string
	// host is where published ports are dialled.
	host string
	// remote is true when the engine does not run on this machine: ports are
	// then published on all interfaces of the engine's host.
	remote bool
}

var (
	engineMu  sync.Mutex
	engineVal *engine
)

// getEngine connects to the engine once per process. A failed attempt is not
// cached, so a test binary recovers when the engine comes up later.
func getEngine(ctx context.Context) (*engine, error) {
	engineMu.Lock()
	defer engineMu.Unlock()
	if engineVal != nil {
		return engineVal, nil
	}
	var tried []string
	for _, cand := range engineCandidates() {
		e, err := dialEngine(ctx, cand.endpoint)
		if err == nil {
			engineVal = e
			return e, nil
		}
		tried = append(tried, fmt.Sprintf("%s (%s): %v", cand.endpoint, cand.from, err))
	}
	return nil, fmt.Errorf("no Docker engine answered; tried:\n\t%s\nstart Docker (or Podman's socket), or point DOCKER_HOST at a running engine", strings.Join(tried, "\n\t"))
}

type candidate struct{ endpoint, from string }

// engineCandidates lists the engine addresses to try, in docker's order:
// DOCKER_HOST, DOCKER_CONTEXT or the current context of the docker CLI's
// config, the default socket, then Podman's sockets.
func engineCandidates() []candidate {
	if h := os.Getenv("DOCKER_HOST"); h != "" {
		return []candidate{{h, "DOCKER_HOST"}}
	}
	var out []candidate
	ctxName := os.Getenv("DOCKER_CONTEXT")
	from := "DOCKER_CONTEXT"
	if ctxName == "" {
		ctxName = currentDockerContext()
		from = "docker context"
	}
	if ctxName != "" && ctxName != "default" {
		if h := contextEndpoint(ctxName); h != "" {
			out = append(out, candidate{h, from + " " + ctxName})
		}
	}
	out = append(out, candidate{"unix:///var/run/docker.sock", "default socket"})
	if x := os.Getenv("XDG_RUNTIME_DIR"); x != "" {
		out = append(out, candidate{"unix://" + filepath.Join(x, "podman", "podman.sock"), "rootless Podman socket"})
		out = append(out, candidate{"unix://" + filepath.Join(x, "docker.sock"), "rootless Docker socket"})
	}
	out = append(out, candidate{"unix:///run/podman/podman.sock", "Podman socket"})
	return out
}

func dockerConfigDir() string {
	if d := os.Getenv("DOCKER_CONFIG"); d != "" {
		return d
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".docker")
}

func currentDockerContext() string {
	b, err := os.ReadFile(filepath.Join(dockerConfigDir(), "config.json"))
	if err != nil {
		return ""
	}
	var cfg struct {
		CurrentContext string `json:"currentContext"`
	}
	if json.Unmarshal(b, &cfg) != nil {
		return ""
	}
	return cfg.CurrentContext
}

func contextEndpoint(name string) string {
	sum := sha256.Sum256([]byte(name))
	b, err := os.ReadFile(filepath.Join(dockerConfigDir(), "contexts", "meta", hex.EncodeToString(sum[:]), "meta.json"))
	if err != nil {
		return ""
	}
	var meta struct {
		Endpoints map[string]struct {
			Host string `json:"Host"`
		} `json:"Endpoints"`
	}
	if json.Unmarshal(b, &meta) != nil {
		return ""
	}
	return meta.Endpoints["docker"].Host
}

func dialEngine(ctx context.Context, endpoint string) (*engine, error) {
	u, err := url.Parse(endpoint)
	if err != nil {
		return nil, err
	}
	switch u.Scheme {
	case "unix":
		if _, err := os.Stat(u.Path); err != nil {
			return nil, errors.New("no socket")
		}
	case "ssh":
		return nil, errors.New("ssh:// engines are not supported directly; forward the socket (ssh -L /tmp/docker.sock:/var/run/docker.sock host) and set DOCKER_HOST=unix:///tmp/docker.sock")
	}
	pool, err := dockertest.NewPool(endpoint)
	if err != nil {
		return nil, err
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Client.PingWithContext(pctx); err != nil {
		return nil, err
	}
	e := &engine{c: pool.Client, endpoint: endpoint, host: "127.0.0.1"}
	if u.Scheme == "tcp" || u.Scheme == "http" || u.Scheme == "https" {
		h := u.Hostname()
		if h != "" && h != "localhost" && !strings.HasPrefix(h, "127.") && h != "::1" {
			e.host = h
			e.remote = true
		}
	}
	return e, nil
}
