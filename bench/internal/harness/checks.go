package harness

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/redis/go-redis/v9"
)

// A Check is how a benchmark uses one service the moment a tool says the
// stack is ready: one attempt with the service's real client, no retry. A
// failed check makes the run a failed run: a tool that is fast because it
// says "ready" too early does not get a time.
type Check struct {
	Service string
	Port    int    // container port
	Proto   string // "postgres", "redis", "amqp" or "http"
	// User, Password and DB are the credentials the compose file gives
	// (postgres, amqp), for the tools that have no typed accessor.
	User, Password, DB string
	// Query must succeed (postgres): "SELECT count(*) FROM orders" checks
	// that the migration one-shot ran, too.
	Query string
	// Path is the HTTP path to GET (http).
	Path string
}

// Target is the client address of the check's service published on
// hostport: a DSN, an address or a URL, like composegen's typed accessors.
func (c Check) Target(hostport string) string {
	switch c.Proto {
	case "postgres":
		return (&url.URL{Scheme: "postgres", User: url.UserPassword(c.User, c.Password), Host: hostport, Path: "/" + c.DB, RawQuery: "sslmode=disable"}).String()
	case "amqp":
		return (&url.URL{Scheme: "amqp", User: url.UserPassword(c.User, c.Password), Host: hostport, Path: "/"}).String()
	case "http":
		return "http://" + hostport + c.Path
	}
	return hostport
}

// checkTimeout bounds one use of a service. A refused or reset connection
// fails at once; the bound only stops a hang on a loaded machine from being
// taken for a failure of the tool.
const checkTimeout = 10 * time.Second

var checkHTTP = &http.Client{Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil}}

// Use uses the service once through target.
func (c Check) Use(ctx context.Context, target string) error {
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	switch c.Proto {
	case "postgres":
		conn, err := pgx.Connect(ctx, target)
		if err != nil {
			return fmt.Errorf("pgx connect: %w", err)
		}
		defer conn.Close(context.Background())
		q := c.Query
		if q == "" {
			q = "SELECT 1"
		}
		var n int64
		if err := conn.QueryRow(ctx, q).Scan(&n); err != nil {
			return fmt.Errorf("pgx %q: %w", q, err)
		}
		return nil
	case "redis":
		rc := redis.NewClient(&redis.Options{Addr: target, MaxRetries: -1, DialTimeout: checkTimeout})
		defer rc.Close()
		if err := rc.Ping(ctx).Err(); err != nil {
			return fmt.Errorf("redis PING: %w", err)
		}
		return nil
	case "amqp":
		conn, err := amqp.DialConfig(target, amqp.Config{Dial: func(network, addr string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		}})
		if err != nil {
			return fmt.Errorf("amqp dial: %w", err)
		}
		defer conn.Close()
		ch, err := conn.Channel()
		if err != nil {
			return fmt.Errorf("amqp channel: %w", err)
		}
		return ch.Close()
	case "http":
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
		if err != nil {
			return err
		}
		resp, err := checkHTTP.Do(req)
		if err != nil {
			return fmt.Errorf("GET: %w", err)
		}
		resp.Body.Close()
		if resp.StatusCode >= 400 {
			return fmt.Errorf("GET %s: %s", req.URL.Path, resp.Status)
		}
		return nil
	}
	return fmt.Errorf("unknown check protocol %q", c.Proto)
}

// Verify uses every checked service at once, concurrently, each once. It
// returns every failure, each naming its service.
func Verify(ctx context.Context, checks []Check, targets map[string]string) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for _, c := range checks {
		target, ok := targets[c.Service]
		if !ok {
			errs = append(errs, fmt.Errorf("%s: no published port %d", c.Service, c.Port))
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.Use(ctx, target); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("%s: %w", c.Service, err))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	sort.Slice(errs, func(i, j int) bool { return errs[i].Error() < errs[j].Error() })
	return errors.Join(errs...)
}

// PublishedTargets finds, for the tools without typed accessors
// (testcontainers-go, the compose CLI), each checked service's container
// by its compose labels and returns the check targets on its published
// ports. It costs one engine call.
func PublishedTargets(ctx context.Context, project string, checks []Check) (map[string]string, error) {
	c, err := dockerClient()
	if err != nil {
		return nil, err
	}
	cs, err := listByLabel(ctx, c, "com.docker.compose.project="+project)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, chk := range checks {
		for _, ct := range cs {
			if ct.Labels["com.docker.compose.service"] != chk.Service {
				continue
			}
			// Docker 20.10 may publish a port on IPv4 and IPv6 with
			// different host ports: dial the IPv4 one, as clients do.
			v6 := ""
			for _, p := range ct.Ports {
				if int(p.PrivatePort) != chk.Port || p.Type != "tcp" || p.PublicPort == 0 {
					continue
				}
				port := strconv.Itoa(int(p.PublicPort))
				switch p.IP {
				case "", "0.0.0.0", "127.0.0.1":
					out[chk.Service] = chk.Target(net.JoinHostPort("127.0.0.1", port))
				case "::", "::1":
					v6 = chk.Target(net.JoinHostPort("::1", port))
				}
			}
			if _, ok := out[chk.Service]; !ok && v6 != "" {
				out[chk.Service] = v6
			}
		}
	}
	return out, nil
}
