package enginetest

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/composegen/composegen/runtime/engine"
)

func init() {
	register("LogsTailAndStreams", "", testLogs)
	register("LogsFollow", "", testLogsFollow)
	register("LogsFollowCancel", "", testLogsFollowCancel)
	register("LogsTty", Tty, testLogsTty)
	register("CopyToFrom", "", testCopy)
}

func testLogs(ctx context.Context, t *testing.T, s *suite) {
	// stdout and stderr are copied separately: the sleeps order them.
	id := s.run(ctx, t, s.spec(t, "", "sh", "-c", `for i in 1 2 3 4 5; do echo line$i; done; sleep 0.5; echo oops >&2; exec sleep 300`))
	s.waitOutput(ctx, t, id, "line5")
	if s.cfg.without[LogStreams] {
		// Both streams, in order, on stdout.
		var out, errs string
		if !eventually(ctx, 10*time.Second, func() bool { out, errs = s.logs(ctx, t, id, engine.LogOptions{}); return strings.Contains(out, "oops") }) ||
			out != "line1\nline2\nline3\nline4\nline5\noops\n" || errs != "" {
			t.Errorf("stdout %q, stderr %q; want line1 to line5 and oops on stdout (Without(LogStreams))", out, errs)
		}
		if out, errs = s.logs(ctx, t, id, engine.LogOptions{Tail: 2}); out != "line5\noops\n" || errs != "" {
			t.Errorf("Tail 2: stdout %q, stderr %q; want \"line5\\noops\\n\" on stdout", out, errs)
		}
		return
	}
	var errs string
	if !eventually(ctx, 10*time.Second, func() bool { _, errs = s.logs(ctx, t, id, engine.LogOptions{}); return errs == "oops\n" }) {
		t.Errorf("stderr = %q; want \"oops\\n\"", errs)
	}
	out, _ := s.logs(ctx, t, id, engine.LogOptions{})
	if out != "line1\nline2\nline3\nline4\nline5\n" {
		t.Errorf("stdout = %q; want line1 to line5", out)
	}
	out, errs = s.logs(ctx, t, id, engine.LogOptions{Tail: 2})
	// The last two lines: line5 and oops, split between the streams.
	if out != "line5\n" || errs != "oops\n" {
		t.Errorf("Tail 2: stdout %q, stderr %q; want \"line5\\n\" and \"oops\\n\"", out, errs)
	}
}

func testLogsFollow(ctx context.Context, t *testing.T, s *suite) {
	id := s.run(ctx, t, s.spec(t, "", "sh", "-c", `for i in 1 2 3 4 5 6; do echo tick$i; sleep 0.3; done`))
	var out syncBuilder
	fctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	err := s.eng.Logs(fctx, id, engine.LogOptions{Follow: true}, &out, io.Discard)
	if err != nil {
		t.Fatalf("Logs with Follow: %v; want nil when the container stops", err)
	}
	if want := "tick1\ntick2\ntick3\ntick4\ntick5\ntick6\n"; out.String() != want {
		t.Errorf("followed output %q; want %q", out.String(), want)
	}
}

func testLogsFollowCancel(ctx context.Context, t *testing.T, s *suite) {
	id := s.run(ctx, t, s.spec(t, "", "sh", "-c", `while :; do echo tick; sleep 0.1; done`))
	var out syncBuilder
	fctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.eng.Logs(fctx, id, engine.LogOptions{Follow: true}, &out, io.Discard) }()
	if !eventually(ctx, 30*time.Second, func() bool { return strings.Count(out.String(), "tick") >= 3 }) {
		t.Fatalf("followed output %q; want ticks as they come", out.String())
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Logs after cancel = %v; want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Errorf("Logs with Follow did not return within 10s of its context's end")
	}
}

func testLogsTty(ctx context.Context, t *testing.T, s *suite) {
	spec := s.spec(t, "", "sh", "-c", `echo tty-out; echo tty-err >&2; [ -t 1 ] && echo is-a-tty`)
	spec.Tty = true
	id := s.run(ctx, t, spec)
	if _, err := s.eng.Wait(ctx, id); err != nil {
		t.Fatal(err)
	}
	out, errs := s.logs(ctx, t, id, engine.LogOptions{Tty: true})
	out = strings.ReplaceAll(out, "\r\n", "\n")
	if out != "tty-out\ntty-err\nis-a-tty\n" || errs != "" {
		t.Errorf("tty logs: stdout %q, stderr %q; want every line on stdout, raw", out, errs)
	}
}

func testCopy(ctx context.Context, t *testing.T, s *suite) {
	id := s.sleeper(ctx, t)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	_ = tw.WriteHeader(&tar.Header{Name: "sub/", Typeflag: tar.TypeDir, Mode: 0o755})
	_ = tw.WriteHeader(&tar.Header{Name: "sub/hello.txt", Mode: 0o640, Size: 6})
	_, _ = tw.Write([]byte("hello\n"))
	_ = tw.Close()
	if err := s.eng.CopyTo(ctx, id, "/tmp", bytes.NewReader(buf.Bytes())); err != nil {
		t.Fatal(err)
	}
	if _, out, _ := s.exec(ctx, t, id, "cat", "/tmp/sub/hello.txt"); out != "hello\n" {
		t.Errorf("copied file holds %q; want \"hello\\n\"", out)
	}
	if _, out, _ := s.exec(ctx, t, id, "stat", "-c", "%a", "/tmp/sub/hello.txt"); out != "640\n" {
		t.Errorf("copied file has mode %q; want 640", out)
	}
	rc, err := s.eng.CopyFrom(ctx, id, "/tmp/sub/hello.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	h, err := tr.Next()
	if err != nil || h.Name != "hello.txt" {
		t.Fatalf("CopyFrom: first entry %+v, %v; want hello.txt", h, err)
	}
	if b, _ := io.ReadAll(tr); string(b) != "hello\n" {
		t.Errorf("CopyFrom: hello.txt holds %q", b)
	}
	// Into a missing directory: an error wrapping engine.ErrNotFound
	// (Docker, Kubernetes: the runtime then copies into the deepest
	// existing directory), or the directory is created (Podman), but
	// never a silent loss.
	err = s.eng.CopyTo(ctx, id, "/no/such/dir", bytes.NewReader(buf.Bytes()))
	if _, out, _ := s.exec(ctx, t, id, "cat", "/no/such/dir/sub/hello.txt"); err == nil && out != "hello\n" {
		t.Errorf("CopyTo into a missing directory: nil, but the file is not there")
	} else if err != nil {
		notFound(t, "CopyTo into a missing directory", err)
	}
	_, err = s.eng.CopyFrom(ctx, id, "/no/such/file")
	notFound(t, "CopyFrom of a missing path", err)
}
