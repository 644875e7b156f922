package kube

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

func TestExec(t *testing.T) {
	t.Parallel()
	p := newProject(t)
	id := p.run(p.spec("sleeper", "sleep", "300"))
	code, out, errs := p.exec(id, "sh", "-c", "echo out; echo err >&2; exit 7")
	if code != 7 || out != "out\n" || errs != "err\n" {
		t.Errorf("exec = %d, %q, %q; want 7, out, err on their streams", code, out, errs)
	}
	if _, out, _ := p.exec(id, "echo", "$HOME;", "*"); out != "$HOME; *\n" {
		t.Errorf("exec echo = %q; want the arguments unexpanded (no shell)", out)
	}
	if code, err := p.eng.Exec(p.ctx(), id, []string{"/no/such/program"}, nil, nil); err == nil && code == 0 {
		t.Errorf("exec of a missing program = 0, nil")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	var w ringBuf
	start := time.Now()
	_, err := p.eng.Exec(ctx, id, []string{"sh", "-c", "echo started; sleep 60"}, &w, nil)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 10*time.Second {
		t.Errorf("Exec with a 1s context = %v after %v; want DeadlineExceeded at once", err, time.Since(start))
	}
	created := p.create(p.spec("created", "sleep", "300"))
	if _, err := p.eng.Exec(p.ctx(), created, []string{"true"}, nil, nil); err == nil {
		t.Errorf("Exec in a created container: nil error")
	}
}

func TestLogsTailAndFollow(t *testing.T) {
	t.Parallel()
	p := newProject(t)
	id := p.run(p.spec("ticker", "sh", "-c", `for i in 1 2 3 4 5 6; do echo tick$i; sleep 0.3; done`))
	var out ringBuf
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := p.eng.Logs(ctx, id, engine.LogOptions{Follow: true}, &out, io.Discard); err != nil {
		t.Fatalf("Logs with Follow: %v; want nil once the container ends", err)
	}
	if want := "tick1\ntick2\ntick3\ntick4\ntick5\ntick6\n"; out.String() != want {
		t.Errorf("followed %q; want %q", out.String(), want)
	}
	if got := p.logs(id, engine.LogOptions{Tail: 2}); got != "tick5\ntick6\n" {
		t.Errorf("Tail 2 = %q", got)
	}
	cctx, ccancel := context.WithCancel(context.Background())
	long := p.run(p.spec("forever", "sh", "-c", `while :; do echo tick; sleep 0.1; done`))
	done := make(chan error, 1)
	var fw ringBuf
	go func() { done <- p.eng.Logs(cctx, long, engine.LogOptions{Follow: true}, &fw, io.Discard) }()
	if !eventually(30*time.Second, func() bool { return strings.Count(fw.String(), "tick") >= 3 }) {
		t.Fatalf("followed %q; want ticks as they come", fw.String())
	}
	ccancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Logs after cancel = %v; want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Errorf("Logs did not return after cancel")
	}
}

func TestCopyToFrom(t *testing.T) {
	t.Parallel()
	p := newProject(t)
	id := p.run(p.spec("box", "sleep", "300"))
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	_ = tw.WriteHeader(&tar.Header{Name: "sub/", Typeflag: tar.TypeDir, Mode: 0o755})
	_ = tw.WriteHeader(&tar.Header{Name: "sub/hello.txt", Mode: 0o640, Size: 6})
	_, _ = tw.Write([]byte("hello\n"))
	_ = tw.Close()
	if err := p.eng.CopyTo(p.ctx(), id, "/tmp", bytes.NewReader(buf.Bytes())); err != nil {
		t.Fatal(err)
	}
	if _, out, _ := p.exec(id, "stat", "-c", "%a %s", "/tmp/sub/hello.txt"); out != "640 6\n" {
		t.Errorf("copied file: %q; want mode 640, 6 bytes", out)
	}
	rc, err := p.eng.CopyFrom(p.ctx(), id, "/tmp/sub/hello.txt")
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(rc)
	h, err := tr.Next()
	if err != nil || h.Name != "hello.txt" {
		t.Fatalf("CopyFrom: %+v, %v", h, err)
	}
	if b, _ := io.ReadAll(tr); string(b) != "hello\n" {
		t.Errorf("CopyFrom: %q", b)
	}
	if err := p.eng.CopyTo(p.ctx(), id, "/no/such/dir", bytes.NewReader(buf.Bytes())); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("CopyTo a missing directory = %v; want ErrNotFound (the runtime then creates it)", err)
	}
	if _, err := p.eng.CopyFrom(p.ctx(), id, "/no/such/file"); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("CopyFrom a missing file = %v; want ErrNotFound", err)
	}
}
