package docker

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/composegen/composegen/runtime/engine"
	dt "github.com/ory/dockertest/v3/docker"
)

// createBody is the body of POST /containers/create. Init shadows the
// dockertest field, which cannot say "false".
type createBody struct {
	*dt.Config
	HostConfig       hostConfig
	NetworkingConfig *dt.NetworkingConfig `json:",omitempty"`
}

type hostConfig struct {
	*dt.HostConfig
	Init *bool `json:",omitempty"`
}

// Create creates the container, attached to its first network, then
// connects it to the others. When a connection fails, the container is
// removed again.
func (e *Engine) Create(ctx context.Context, spec engine.ContainerSpec) (string, error) {
	body := createBody{Config: config(spec), HostConfig: hostConfig{HostConfig: hostCfg(spec), Init: spec.Init}}
	if spec.NetworkMode == "" && len(spec.Networks) > 0 {
		first := spec.Networks[0]
		body.HostConfig.NetworkMode = first.Network
		body.NetworkingConfig = &dt.NetworkingConfig{EndpointsConfig: map[string]*dt.EndpointConfig{
			first.Network: {Aliases: first.Aliases, Links: first.Links},
		}}
	}
	var created struct{ ID string }
	q := url.Values{}
	if spec.Name != "" {
		q.Set("name", spec.Name)
	}
	if spec.Platform != "" {
		q.Set("platform", spec.Platform)
	}
	if err := e.call(ctx, "POST", "/containers/create", q, body, &created); err != nil {
		return "", fmt.Errorf("create container %s: %w", spec.Name, redact(err, spec.Env))
	}
	if spec.NetworkMode != "" || len(spec.Networks) < 2 {
		return created.ID, nil
	}
	for _, n := range spec.Networks[1:] {
		if err := e.connect(ctx, created.ID, n); err != nil {
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			_ = e.Remove(rctx, engine.Resource{Kind: engine.KindContainer, ID: created.ID})
			return "", fmt.Errorf("create container %s: connect to network %s: %w", spec.Name, n.Network, err)
		}
	}
	return created.ID, nil
}

func (e *Engine) connect(ctx context.Context, id string, n engine.Attachment) error {
	body := struct {
		Container      string
		EndpointConfig *dt.EndpointConfig
	}{id, &dt.EndpointConfig{Aliases: n.Aliases, Links: n.Links}}
	return e.call(ctx, "POST", "/networks/"+url.PathEscape(n.Network)+"/connect", nil, body, nil)
}

// config is the container's configuration.
func config(s engine.ContainerSpec) *dt.Config {
	c := &dt.Config{
		Image: s.Image, Cmd: s.Cmd, Entrypoint: s.Entrypoint, Env: s.Env, Labels: s.Labels,
		Hostname: s.Hostname, User: s.User, WorkingDir: s.WorkingDir, Tty: s.Tty, OpenStdin: s.OpenStdin,
		StopSignal: s.StopSignal, StopTimeout: seconds(s.StopTimeout),
	}
	if s.Entrypoint != nil && len(s.Entrypoint) == 0 {
		// entrypoint: [] clears the image's. Podman 4.3 reads an empty
		// list as "unset" and keeps it; [""], what the docker CLI sends
		// for --entrypoint "", clears it on Docker and Podman.
		c.Entrypoint = []string{""}
	}
	if h := s.Healthcheck; h != nil {
		c.Healthcheck = &dt.HealthConfig{Test: h.Test, Interval: h.Interval, Timeout: h.Timeout, StartPeriod: h.StartPeriod, Retries: h.Retries}
	}
	if len(s.Ports) > 0 {
		c.ExposedPorts = map[dt.Port]struct{}{}
		for _, p := range s.Ports {
			c.ExposedPorts[portKey(p)] = struct{}{}
		}
	}
	return c
}

// seconds rounds a duration up to whole seconds (0 stays 0).
func seconds(d time.Duration) int {
	if d <= 0 {
		return 0
	}
	return int((d + time.Second - 1) / time.Second)
}

func portKey(p engine.PortBinding) dt.Port {
	proto := p.Protocol
	if proto == "" {
		proto = "tcp"
	}
	return dt.Port(strconv.Itoa(p.Port) + "/" + proto)
}

// hostCfg is the container's host configuration.
func hostCfg(s engine.ContainerSpec) *dt.HostConfig {
	h := &dt.HostConfig{
		Privileged: s.Privileged, ReadonlyRootfs: s.ReadOnly, CapAdd: s.CapAdd, CapDrop: s.CapDrop,
		ShmSize: s.ShmSize, Sysctls: s.Sysctls, Tmpfs: s.Tmpfs, ExtraHosts: s.ExtraHosts,
		DNS: s.DNS, DNSSearch: s.DNSSearch, DNSOptions: s.DNSOptions, SecurityOpt: s.SecurityOpt, GroupAdd: s.GroupAdd,
		UsernsMode: s.UsernsMode, CgroupParent: s.CgroupParent, PidMode: s.PidMode, IpcMode: s.IpcMode,
		VolumesFrom: s.VolumesFrom, Memory: s.Memory, MemoryReservation: s.MemReservation, MemorySwap: s.MemSwap,
		CPUShares: s.CPUShares, PidsLimit: s.PidsLimit, OOMKillDisable: s.OomKillDisable, OomScoreAdj: s.OomScoreAdj,
		NetworkMode: s.NetworkMode,
	}
	if s.NanoCPUs > 0 {
		// What the engine makes of --cpus: a quota per 100 ms period.
		h.CPUPeriod = 100000
		h.CPUQuota = s.NanoCPUs / 10000
	}
	if r := s.Restart; r.Name != "" && r.Name != "no" {
		h.RestartPolicy = dt.RestartPolicy{Name: r.Name, MaximumRetryCount: r.MaxRetries}
	}
	for _, u := range s.Ulimits {
		h.Ulimits = append(h.Ulimits, dt.ULimit{Name: u.Name, Soft: u.Soft, Hard: u.Hard})
	}
	for _, d := range s.Devices {
		h.Devices = append(h.Devices, dt.Device{PathOnHost: d.Source, PathInContainer: d.Target, CgroupPermissions: d.Permissions})
	}
	for _, m := range s.Mounts {
		h.Mounts = append(h.Mounts, dt.HostMount{Type: m.Type, Source: m.Source, Target: m.Target, ReadOnly: m.ReadOnly})
	}
	if len(s.Ports) > 0 {
		h.PortBindings = map[dt.Port][]dt.PortBinding{}
		for _, p := range s.Ports {
			hp := p.HostPort
			if hp == "0" {
				hp = ""
			}
			k := portKey(p)
			h.PortBindings[k] = append(h.PortBindings[k], dt.PortBinding{HostIP: p.HostIP, HostPort: hp})
		}
	}
	return h
}

// secretName matches the environment variables whose values must never
// appear in an error.
var secretName = regexp.MustCompile(`(?i)PASSWORD|PASSWD|SECRET|TOKEN|KEY|CREDENTIAL`)

// redact replaces the values of secret variables of env in err's message
// (an engine's message may quote the configuration it refuses).
func redact(err error, env []string) error {
	msg := err.Error()
	for _, kv := range env {
		name, value, _ := strings.Cut(kv, "=")
		if len(value) >= 3 && secretName.MatchString(name) {
			msg = strings.ReplaceAll(msg, value, "***")
		}
	}
	if msg == err.Error() {
		return err
	}
	return &redactedError{msg: msg, err: err}
}

// redactedError is err with a redacted message; errors.Is still sees err.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }
