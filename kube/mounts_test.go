package kube

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/composegen/composegen/runtime/engine"
)

func TestBindMountsAndSecrets(t *testing.T) {
	t.Parallel()
	p := newProject(t)
	dir := t.TempDir()
	initdb := filepath.Join(dir, "initdb")
	must(t, os.MkdirAll(filepath.Join(initdb, "sub"), 0o755))
	must(t, os.WriteFile(filepath.Join(initdb, "01.sql"), []byte("select 1;\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(initdb, "sub", "run.sh"), []byte("#!/bin/sh\necho run\n"), 0o755))
	conf := filepath.Join(dir, "app.conf")
	must(t, os.WriteFile(conf, []byte("key=value\n"), 0o600))
	secret := filepath.Join(dir, "db_password")
	must(t, os.WriteFile(secret, []byte("s3cret\n"), 0o444))
	spec := p.spec("reader", "sleep", "300")
	spec.Mounts = []engine.Mount{
		{Type: "bind", Source: initdb, Target: "/docker-entrypoint-initdb.d"},
		{Type: "bind", Source: conf, Target: "/etc/app/app.conf"},
		{Type: "bind", Source: secret, Target: "/run/secrets/db_password", ReadOnly: true},
		{Type: "tmpfs", Target: "/scratch"},
	}
	id := p.run(spec)
	for _, c := range []struct{ cmd, want string }{
		{"cat /docker-entrypoint-initdb.d/01.sql", "select 1;\n"},
		{"/docker-entrypoint-initdb.d/sub/run.sh", "run\n"},
		{"cat /etc/app/app.conf; stat -L -c %a /etc/app/app.conf", "key=value\n600\n"},
		{"cat /run/secrets/db_password", "s3cret\n"},
		{"echo x > /scratch/f && cat /scratch/f", "x\n"},
		{"ls /etc/app", "app.conf\n"},
	} {
		if _, out, errs := p.exec(id, "sh", "-c", c.cmd); out != c.want {
			t.Errorf("%s: %q %q; want %q", c.cmd, out, errs, c.want)
		}
	}
	// Bind mounts are read-only snapshots: a write fails visibly.
	if code, _, _ := p.exec(id, "sh", "-c", "echo y > /docker-entrypoint-initdb.d/new"); code == 0 {
		t.Errorf("writing into a bind-mounted directory succeeded; want it read-only")
	}
	// The secret is a Secret, the files ConfigMaps.
	ns, pod, _ := splitID(id)
	if s, err := p.eng.cs.CoreV1().Secrets(ns).List(p.ctx(), listPod(pod)); err != nil || len(s.Items) != 1 {
		t.Errorf("Secrets of the pod: %v, %v; want one", s, err)
	}
	must(t, p.eng.Remove(p.ctx(), engine.Resource{Kind: engine.KindContainer, ID: id}))
	cms, _ := p.eng.cs.CoreV1().ConfigMaps(ns).List(p.ctx(), listPod(pod))
	if len(cms.Items) != 0 {
		t.Errorf("ConfigMaps left after Remove: %d", len(cms.Items))
	}
}

func TestNamedVolumeBelongsToOneContainer(t *testing.T) {
	t.Parallel()
	p := newProject(t)
	vol := p.name + "_data"
	must(t, p.eng.CreateVolume(p.ctx(), engine.VolumeSpec{Name: vol, Project: p.name, Labels: p.labels}))
	mount := []engine.Mount{{Type: "volume", Source: vol, Target: "/data"}}
	db := p.spec("db", "sh", "-c", "echo kept > /data/f; sleep 300")
	db.Mounts = mount
	id := p.run(db)
	if !eventually(10*time.Second, func() bool { _, out, _ := p.exec(id, "cat", "/data/f"); return out == "kept\n" }) {
		t.Errorf("the volume is not writable")
	}
	other := p.spec("other", "sleep", "300")
	other.Mounts = mount
	_, err := p.eng.Create(p.ctx(), other)
	if err == nil || !strings.Contains(err.Error(), `service "other"`) || !strings.Contains(err.Error(), "volumes") || !strings.Contains(err.Error(), vol) {
		t.Errorf("second container on the volume: %v; want a refusal naming the service, the field and the volume", err)
	}
	// The same container may be created again (recreated by the runtime).
	must(t, p.eng.Remove(p.ctx(), engine.Resource{Kind: engine.KindContainer, ID: id}))
	p.create(db)
	_, err = p.eng.Create(p.ctx(), engine.ContainerSpec{Name: p.name + "-x-1", Project: p.name, Service: "x", Image: "busybox:latest",
		Mounts: []engine.Mount{{Type: "volume", Source: "external_vol", Target: "/v"}}})
	if err == nil || !strings.Contains(err.Error(), "external") {
		t.Errorf("a volume that was not created: %v; want a refusal", err)
	}
}

func TestBindMountRefusals(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big")
	must(t, os.MkdirAll(big, 0o755))
	must(t, os.WriteFile(filepath.Join(big, "blob"), make([]byte, 2<<20), 0o644))
	empty := filepath.Join(dir, "empty")
	must(t, os.MkdirAll(empty, 0o755))
	for _, c := range []struct {
		m    engine.Mount
		want string
	}{
		{engine.Mount{Type: "bind", Source: big, Target: "/big"}, "1 MiB"},
		{engine.Mount{Type: "bind", Source: filepath.Join(big, "blob"), Target: "/blob"}, "1 MiB"},
		{engine.Mount{Type: "bind", Source: empty, Target: "/out"}, "writable host directory"},
	} {
		spec := &engine.ContainerSpec{Name: "p-web-1", Project: "p", Service: "web", Image: "busybox", Mounts: []engine.Mount{c.m}}
		_, err := buildPod("p", spec)
		if err == nil || !strings.Contains(err.Error(), `service "web"`) || !strings.Contains(err.Error(), "volumes:") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v; want a refusal naming the service, volumes and %q", c.m.Source, err, c.want)
		}
	}
	ro := &engine.ContainerSpec{Name: "p-web-1", Project: "p", Service: "web", Image: "busybox", Mounts: []engine.Mount{{Type: "bind", Source: empty, Target: "/in", ReadOnly: true}}}
	if _, err := buildPod("p", ro); err != nil {
		t.Errorf("an empty read-only directory: %v", err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
