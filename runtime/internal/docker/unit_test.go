package docker

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/composegen/composegen/runtime/engine"
	"github.com/google/go-cmp/cmp"
)

func frame(stream byte, payload string) []byte {
	h := make([]byte, 8, 8+len(payload))
	h[0] = stream
	binary.BigEndian.PutUint32(h[4:], uint32(len(payload)))
	return append(h, payload...)
}

func TestDemux(t *testing.T) {
	var in bytes.Buffer
	in.Write(frame(1, "out1 "))
	in.Write(frame(2, "err1"))
	in.Write(frame(1, strings.Repeat("x", 100000)))
	in.Write(frame(0, " stdin-stream"))
	var out, errb bytes.Buffer
	if err := demux(&in, &out, &errb); err != nil {
		t.Fatal(err)
	}
	if want := "out1 " + strings.Repeat("x", 100000) + " stdin-stream"; out.String() != want {
		t.Errorf("stdout has %d bytes; want %d", out.Len(), len(want))
	}
	if errb.String() != "err1" {
		t.Errorf("stderr = %q", errb.String())
	}
}

func TestDemuxErrors(t *testing.T) {
	truncated := frame(1, "hello")[:10]
	if err := demux(bytes.NewReader(truncated), io.Discard, io.Discard); !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("truncated frame: %v; want an EOF error", err)
	}
	if err := demux(bytes.NewReader(frame(3, "exec failed")), io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "exec failed") {
		t.Errorf("system error frame: %v", err)
	}
	if err := demux(bytes.NewReader(frame(9, "?")), io.Discard, io.Discard); err == nil {
		t.Errorf("unknown stream type: no error")
	}
}

// failAfter accepts n bytes, then fails.
type failAfter struct{ n int }

func (w *failAfter) Write(p []byte) (int, error) {
	if w.n -= len(p); w.n < 0 {
		return 0, errors.New("full")
	}
	return len(p), nil
}

func TestDemuxFailingWriter(t *testing.T) {
	var in bytes.Buffer
	for range 10 {
		in.Write(frame(1, strings.Repeat("a", 1000)))
	}
	in.Write(frame(2, "end"))
	var errb bytes.Buffer
	if err := demux(&in, &failAfter{n: 1500}, &errb); err != nil {
		t.Fatalf("a failing stdout writer stopped the stream: %v", err)
	}
	if errb.String() != "end" {
		t.Errorf("stderr after the stdout writer failed = %q; want the rest of the stream read", errb.String())
	}
}

func TestSplitRef(t *testing.T) {
	for ref, want := range map[string][2]string{
		"busybox":                            {"busybox", "latest"},
		"busybox:1.36":                       {"busybox", "1.36"},
		"localhost:5000/app":                 {"localhost:5000/app", "latest"},
		"localhost:5000/app:v2":              {"localhost:5000/app", "v2"},
		"docker.io/library/redis@sha256:abc": {"docker.io/library/redis", "sha256:abc"},
	} {
		if r, tag := splitRef(ref); r != want[0] || tag != want[1] {
			t.Errorf("splitRef(%q) = %q, %q; want %q, %q", ref, r, tag, want[0], want[1])
		}
	}
}

func TestPorts(t *testing.T) {
	type b = struct{ HostIP, HostPort string }
	got := ports(map[string][]b{
		"80/tcp":   {{"::", "32768"}, {"0.0.0.0", "32769"}},
		"53/udp":   {{"127.0.0.1", "40000"}},
		"9000/tcp": nil,         // exposed, not published
		"81/tcp":   {{"", ""}},  // not bound yet
		"x/tcp":    {{"", "1"}}, // not a port
	})
	want := map[engine.PortKey]engine.HostPort{
		{Port: 80, Protocol: "tcp"}: {IP: "0.0.0.0", Port: 32769},
		{Port: 53, Protocol: "udp"}: {IP: "127.0.0.1", Port: 40000},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("ports (-want +got):\n%s", d)
	}
}

func TestCreateBody(t *testing.T) {
	no := false
	spec := engine.ContainerSpec{
		Image: "img", Entrypoint: []string{}, Init: &no, StopTimeout: 1500 * time.Millisecond, NanoCPUs: 1_500_000_000,
		Ports:    []engine.PortBinding{{Port: 80, HostIP: "127.0.0.1", HostPort: "0"}, {Port: 80, HostIP: "::1"}, {Port: 53, Protocol: "udp", HostPort: "5353"}},
		Restart:  engine.RestartPolicy{Name: "on-failure", MaxRetries: 3},
		Networks: []engine.Attachment{{Network: "n1", Aliases: []string{"a"}}},
	}
	body := createBody{Config: config(spec), HostConfig: hostConfig{HostConfig: hostCfg(spec), Init: spec.Init}}
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	hc := m["HostConfig"].(map[string]any)
	checks := []struct {
		what string
		got  any
		want string
	}{
		{"Entrypoint (empty clears the image's, as [\"\"] for Podman)", m["Entrypoint"], `[""]`},
		{"Cmd (nil keeps the image's)", m["Cmd"], "null"},
		{"Init false is sent", hc["Init"], "false"},
		{"StopTimeout rounded up", m["StopTimeout"], "2"},
		{"CPU quota", hc["CpuQuota"], "150000"},
		{"restart policy", hc["RestartPolicy"], `{"MaximumRetryCount":3,"Name":"on-failure"}`},
		{"port bindings", hc["PortBindings"], `{"53/udp":[{"HostPort":"5353"}],"80/tcp":[{"HostIp":"127.0.0.1"},{"HostIp":"::1"}]}`},
		{"exposed ports", m["ExposedPorts"], `{"53/udp":{},"80/tcp":{}}`},
	}
	for _, c := range checks {
		if got, _ := json.Marshal(c.got); string(got) != c.want {
			t.Errorf("%s: %s; want %s", c.what, got, c.want)
		}
	}
	body.HostConfig.Init = nil
	b, _ = json.Marshal(body)
	if bytes.Contains(b, []byte(`"Init"`)) {
		t.Errorf("Init nil is sent: %s", b)
	}
}

func TestSeconds(t *testing.T) {
	for d, want := range map[time.Duration]int{0: 0, -time.Second: 0, time.Millisecond: 1, time.Second: 1, 1001 * time.Millisecond: 2} {
		if got := seconds(d); got != want {
			t.Errorf("seconds(%v) = %d; want %d", d, got, want)
		}
	}
}

func TestRedact(t *testing.T) {
	base := &apiError{Status: 404, Message: `invalid env "DB_PASSWORD=hunter22" next to "MODE=hunter22x" and API_TOKEN=abc`}
	err := redact(base, []string{"DB_PASSWORD=hunter22", "API_TOKEN=abc", "MODE=debug", "SHORT_KEY=ab"})
	if want := `invalid env "DB_PASSWORD=***" next to "MODE=***x" and API_TOKEN=***`; err.Error() != want {
		t.Errorf("redacted = %q; want %q", err, want)
	}
	if !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("the redacted error no longer wraps the original")
	}
	if got := redact(base, []string{"MODE=hunter22"}); got != error(base) {
		t.Errorf("an error without secrets was changed: %v", got)
	}
}

func TestDependents(t *testing.T) {
	for _, tc := range []struct {
		msg  string
		want []string
	}{
		{"container 51cf has dependent containers which must be removed before it: 5a01: container already exists", []string{"5a01"}},
		{"container 51cf has dependent containers which must be removed before it: 5a01, 77bc: container already exists", []string{"5a01", "77bc"}},
		{"container 51cf is running", nil},
	} {
		got := dependents(&apiError{Status: 500, Message: tc.msg})
		if strings.Join(got, " ") != strings.Join(tc.want, " ") || (got == nil) != (tc.want == nil) {
			t.Errorf("dependents(%q) = %q, want %q", tc.msg, got, tc.want)
		}
	}
	if dependents(nil) != nil {
		t.Error("dependents(nil) is not nil")
	}
}
