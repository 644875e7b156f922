package enginetest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/composegen/composegen/runtime/engine"
)

func init() {
	register("NetworkAliases", "", testNetworkAliases)
	register("MultipleNetworks", MultipleNetworks, testMultipleNetworks)
	register("NamedVolume", SharedVolumes, testNamedVolume)
	register("ListAndRemove", "", testListRemove)
	register("RemoveSharedNamespaces", SharedNamespaces, testRemoveSharedNamespaces)
	register("ImageInspect", Images, testImage)
	register("PullFailure", Pull, testPullFailure)
	register("Build", Build, testBuild)
	register("BuildContext", Build, testBuildContext)
}

// fetch gets http://host:8080/ from inside the container (busybox's wget
// -T crashes, so the exec's context bounds it).
func (s *suite) fetch(ctx context.Context, t *testing.T, id, host string) string {
	_, out, _ := s.exec(ctx, t, id, "wget", "-q", "-O", "-", "http://"+host+":8080/")
	return out
}

func testNetworkAliases(ctx context.Context, t *testing.T, s *suite) {
	net := s.network(ctx, t, "net")
	web := s.httpdSpec(t, "web")
	web.Hostname = "webhost"
	web.Networks = []engine.Attachment{{Network: net, Aliases: []string{"web-alias"}}}
	s.run(ctx, t, web)
	client := s.spec(t, "client", "sleep", "300")
	client.Networks = []engine.Attachment{{Network: net}}
	cid := s.run(ctx, t, client)
	var got string
	if !eventually(ctx, 30*time.Second, func() bool { got = s.fetch(ctx, t, cid, "web-alias"); return got == "hello from webhost\n" }) {
		t.Errorf("GET http://web-alias:8080/ from another container = %q; want the page of the aliased container", got)
	}
}

func testMultipleNetworks(ctx context.Context, t *testing.T, s *suite) {
	n1, n2 := s.network(ctx, t, "one"), s.network(ctx, t, "two")
	web := s.httpdSpec(t, "web")
	web.Hostname = "webhost"
	web.Networks = []engine.Attachment{{Network: n1, Aliases: []string{"web-one"}}, {Network: n2, Aliases: []string{"web-two"}}}
	s.run(ctx, t, web)
	client := s.spec(t, "client", "sleep", "300")
	client.Networks = []engine.Attachment{{Network: n2}}
	cid := s.run(ctx, t, client)
	var got string
	if !eventually(ctx, 30*time.Second, func() bool { got = s.fetch(ctx, t, cid, "web-two"); return got == "hello from webhost\n" }) {
		t.Errorf("GET http://web-two:8080/ on the second network = %q; want the page (Create connects every network)", got)
	}
}

func testNamedVolume(ctx context.Context, t *testing.T, s *suite) {
	vol := s.name(t, "data")
	if err := s.eng.CreateVolume(ctx, engine.VolumeSpec{Name: vol, Project: s.project, Labels: s.labelsFor(t)}); err != nil {
		t.Fatal(err)
	}
	s.cleanup(t, engine.Resource{Kind: engine.KindVolume, ID: vol, Name: vol})
	mount := []engine.Mount{{Type: "volume", Source: vol, Target: "/data"}}
	writer := s.spec(t, "writer", "sh", "-c", "echo persisted > /data/file")
	writer.Mounts = mount
	if code, err := s.eng.Wait(ctx, s.run(ctx, t, writer)); err != nil || code != 0 {
		t.Fatalf("writer exited %d, %v", code, err)
	}
	reader := s.spec(t, "reader", "cat", "/data/file")
	reader.Mounts = mount
	rid := s.run(ctx, t, reader)
	if code, err := s.eng.Wait(ctx, rid); err != nil || code != 0 {
		t.Fatalf("reader exited %d, %v", code, err)
	}
	if out, _ := s.logs(ctx, t, rid, engine.LogOptions{}); out != "persisted\n" {
		t.Errorf("second container reads %q from the volume; want \"persisted\\n\"", out)
	}
}

func testListRemove(ctx context.Context, t *testing.T, s *suite) {
	labels := s.labelsFor(t)
	net := s.network(ctx, t, "net")
	vol := s.name(t, "vol")
	if err := s.eng.CreateVolume(ctx, engine.VolumeSpec{Name: vol, Project: s.project, Labels: labels}); err != nil {
		t.Fatal(err)
	}
	running := s.spec(t, "running", "sleep", "300")
	running.Networks = []engine.Attachment{{Network: net}}
	running.Mounts = []engine.Mount{{Type: "volume", Source: vol, Target: "/data"}}
	rid := s.run(ctx, t, running)
	created := s.spec(t, "created", "true")
	s.create(ctx, t, created)
	exited := s.spec(t, "exited", "true")
	eid := s.run(ctx, t, exited)
	if _, err := s.eng.Wait(ctx, eid); err != nil {
		t.Fatal(err)
	}
	got := list(ctx, t, s.eng, labels)
	want := []string{"container " + running.Name, "container " + created.Name, "container " + exited.Name, "network " + net, "volume " + vol}
	sort.Strings(want)
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("List = %v; want %v", got, want)
	}
	other := map[string]string{Label: s.runID, "io.composegen.enginetest.test": t.Name() + "-other"}
	if got := list(ctx, t, s.eng, other); len(got) != 0 {
		t.Errorf("List with another label value = %v; want nothing", got)
	}
	s.removeListed(ctx, t, labels, rid)
}

// A container whose network, pid and ipc namespaces another one shares is
// removed while that one is removed too, whichever removal comes first,
// and then the network goes. (Podman refuses to remove it before the other
// one; left behind, its network teardown fails once the network is gone.)
func testRemoveSharedNamespaces(ctx context.Context, t *testing.T, s *suite) {
	net := s.network(ctx, t, "net")
	host := s.spec(t, "host", "sleep", "300")
	host.Networks = []engine.Attachment{{Network: net}}
	host.IpcMode = "shareable" // Docker's default ipc is private
	hid := s.run(ctx, t, host)
	guest := s.spec(t, "guest", "sleep", "300")
	guest.NetworkMode, guest.PidMode, guest.IpcMode = "container:"+hid, "container:"+hid, "container:"+hid
	gid := s.run(ctx, t, guest)
	// The guest sees the host's processes: the namespaces are shared.
	if code, out, _ := s.exec(ctx, t, gid, "sh", "-c", "ps | grep -c '[s]leep 300'"); code != 0 || strings.TrimSpace(out) != "2" {
		t.Fatalf("the guest sees %q sleep processes (exit %d); want 2, its own and the host's", strings.TrimSpace(out), code)
	}
	errs := make(chan error, 2)
	go func() {
		errs <- s.eng.Remove(ctx, engine.Resource{Kind: engine.KindContainer, ID: hid, Name: host.Name})
	}()
	go func() {
		// The host's removal comes first.
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
		errs <- s.eng.Remove(ctx, engine.Resource{Kind: engine.KindContainer, ID: gid, Name: guest.Name})
	}()
	for range 2 {
		if err := <-errs; err != nil {
			t.Errorf("Remove: %v", err)
		}
	}
	if err := s.eng.Remove(ctx, engine.Resource{Kind: engine.KindNetwork, ID: net, Name: net}); err != nil {
		t.Errorf("Remove of the network after its containers: %v", err)
	}
	if left := list(ctx, t, s.eng, s.labelsFor(t)); len(left) != 0 {
		t.Errorf("after Remove, List = %v; want nothing", left)
	}
}

// removeListed removes what List returns (a running container among it),
// twice, and checks that nothing is left.
func (s *suite) removeListed(ctx context.Context, t *testing.T, labels map[string]string, running string) {
	rs, err := s.eng.List(ctx, labels)
	if err != nil {
		t.Fatal(err)
	}
	for round := range 2 {
		for _, kinds := range [][]string{{engine.KindContainer}, {engine.KindNetwork, engine.KindVolume}} {
			removeKinds(ctx, t, s.eng, rs, kinds)
		}
		if round == 0 {
			if _, err := s.eng.Inspect(ctx, running); !errors.Is(err, engine.ErrNotFound) {
				t.Errorf("Inspect of the removed running container: %v; want not found", err)
			}
		}
	}
	if left := list(ctx, t, s.eng, labels); len(left) != 0 {
		t.Errorf("after Remove, List = %v; want nothing", left)
	}
}

func list(ctx context.Context, t *testing.T, eng engine.Engine, labels map[string]string) []string {
	t.Helper()
	rs, err := eng.List(ctx, labels)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range rs {
		if r.ID == "" || r.Labels[Label] != labels[Label] {
			t.Errorf("listed resource without id or label: %+v", r)
		}
		out = append(out, r.Kind+" "+r.Name)
	}
	sort.Strings(out)
	return out
}

func testImage(ctx context.Context, t *testing.T, s *suite) {
	img, err := s.eng.Image(ctx, s.cfg.image)
	if err != nil || img.ID == "" || img.OS != "linux" || img.Architecture == "" {
		t.Errorf("Image(%s) = %+v, %v; want its id, os linux and architecture", s.cfg.image, img, err)
	}
	_, err = s.eng.Image(ctx, s.cfg.missingImage)
	notFound(t, "Image of a missing image", err)
}

func testPullFailure(ctx context.Context, t *testing.T, s *suite) {
	pctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	start := time.Now()
	var out syncBuilder
	err := s.eng.Pull(pctx, s.cfg.missingImage, "", &out)
	if err == nil {
		t.Fatalf("Pull of %s succeeded", s.cfg.missingImage)
	}
	if pctx.Err() != nil {
		t.Errorf("Pull of an unreachable image hung for %v: %v", time.Since(start), err)
	}
	if !strings.Contains(err.Error(), s.cfg.missingImage) {
		t.Errorf("Pull error %q does not name the image", err)
	}
	t.Logf("Pull failed after %v: %v", time.Since(start).Round(time.Millisecond), err)
}

func testBuild(ctx context.Context, t *testing.T, s *suite) {
	dir := t.TempDir()
	dockerfile := "FROM " + s.cfg.image + " AS first\nARG GREETING=none\nRUN echo \"$GREETING\" > /greeting\n" +
		"FROM first AS second\nRUN echo second > /greeting\n"
	if err := os.WriteFile(filepath.Join(dir, "custom.Dockerfile"), []byte(dockerfile), 0o644); err != nil {
		t.Fatal(err)
	}
	tag := "composegen-enginetest-" + s.runID + ":build"
	base, err := s.eng.Image(ctx, s.cfg.image)
	if err != nil {
		t.Fatal(err)
	}
	spec := engine.BuildSpec{Tag: tag, ContextDir: dir, Dockerfile: "custom.Dockerfile", Target: "first",
		Args: map[string]string{"GREETING": "hi from build"}, Labels: s.labelsFor(t), Platform: base.OS + "/" + base.Architecture}
	var out syncBuilder
	if err := s.build(ctx, t, spec, &out); err != nil {
		t.Fatalf("Build: %v\n%s", err, out.String())
	}
	if img, err := s.eng.Image(ctx, tag); err != nil || img.Architecture != base.Architecture {
		t.Errorf("built image: %+v, %v; want one for %s", img, err, spec.Platform)
	}
	if got := s.runImage(ctx, t, tag); got != "hi from build\n" {
		t.Errorf("built image holds %q; want the build argument of target first", got)
	}
	s.rebuild(ctx, t, spec)
	spec = engine.BuildSpec{Tag: tag + "-fails", ContextDir: dir, Labels: s.labelsFor(t)}
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM "+s.cfg.image+"\nRUN echo failing-step && exit 3\n"), 0o644)
	out = syncBuilder{}
	if err := s.build(ctx, t, spec, &out); err == nil {
		t.Errorf("Build of a failing Dockerfile succeeded")
	} else if !strings.Contains(out.String(), "failing-step") {
		t.Errorf("the failed build's output %q does not show its step's output", out.String())
	}
}

// The context sent is the directory less what its .dockerignore excludes
// (with "!" exceptions), the Dockerfile may live outside it (and is not
// among the files COPY sees), and the image carries the build's labels.
func testBuildContext(ctx context.Context, t *testing.T, s *suite) {
	root := t.TempDir()
	files := map[string]string{
		"ctx/.dockerignore": "ignored.txt\n*.tmp\n!keep.tmp\n",
		"ctx/a.txt":         "a\n",
		"ctx/ignored.txt":   "no\n",
		"ctx/b.tmp":         "no\n",
		"ctx/keep.tmp":      "yes\n",
		"docker/Dockerfile": "FROM " + s.cfg.image + "\nCOPY . /ctx/\nRUN ls -A /ctx > /greeting\n",
	}
	for name, content := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tag := "composegen-enginetest-" + s.runID + ":buildctx"
	labels := s.labelsFor(t)
	labels["io.composegen.enginetest.build"] = "context"
	spec := engine.BuildSpec{Tag: tag, ContextDir: filepath.Join(root, "ctx"), Dockerfile: "../docker/Dockerfile", Labels: labels}
	var out syncBuilder
	if err := s.build(ctx, t, spec, &out); err != nil {
		t.Fatalf("Build with the Dockerfile outside the context: %v\n%s", err, out.String())
	}
	img, err := s.eng.Image(ctx, tag)
	if err != nil {
		t.Fatal(err)
	}
	if img.Labels["io.composegen.enginetest.build"] != "context" {
		t.Errorf("the built image's labels %v lack the build's", img.Labels)
	}
	if got := s.runImage(ctx, t, tag); got != ".dockerignore\na.txt\nkeep.tmp\n" {
		t.Errorf("COPY . saw %q; want the context less what .dockerignore excludes, without the Dockerfile", got)
	}
}

// build builds spec and, with an image remover, removes the image it made
// at the end of the test, by ID: a later build of the same tag (NoCache)
// moves the tag and leaves the earlier image untagged, and removing the
// tag alone left it dangling, with the intermediate images of its steps
// (the classic builder's cache) under it. Removing an image removes
// those of its parents that are untagged and have no other child, so
// what another build shares stays. The cleanup checks that the image is
// gone.
func (s *suite) build(ctx context.Context, t *testing.T, spec engine.BuildSpec, out io.Writer) error {
	if err := s.eng.Build(ctx, spec, out); err != nil {
		return err
	}
	if s.cfg.removeImage == nil {
		return nil
	}
	img, err := s.eng.Image(ctx, spec.Tag)
	if err != nil {
		return fmt.Errorf("inspect the built image %s: %w", spec.Tag, err)
	}
	s.builtMu.Lock()
	if s.built == nil {
		s.built = map[string]bool{}
	}
	first := !s.built[img.ID]
	s.built[img.ID] = true
	s.builtMu.Unlock()
	if first { // a build from the cache makes the same image
		t.Cleanup(func() {
			rctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if err := s.cfg.removeImage(rctx, img.ID); err != nil {
				t.Errorf("remove the image %s built as %s: %v", img.ID, spec.Tag, err)
			}
			if _, err := s.eng.Image(rctx, img.ID); !errors.Is(err, engine.ErrNotFound) {
				t.Errorf("the image %s built as %s is still there after its removal: %v", img.ID, spec.Tag, err)
			}
		})
	}
	return nil
}

// rebuild builds spec again (from the cache) and with NoCache.
func (s *suite) rebuild(ctx context.Context, t *testing.T, spec engine.BuildSpec) {
	for _, noCache := range []bool{false, true} {
		spec.NoCache = noCache
		var out syncBuilder
		if err := s.build(ctx, t, spec, &out); err != nil {
			t.Fatalf("Build again (NoCache %v): %v", noCache, err)
		}
		if cached := strings.Contains(strings.ToLower(out.String()), "using cache"); cached == noCache {
			t.Errorf("Build again with NoCache %v: output says cache used = %v:\n%s", noCache, cached, out.String())
		}
	}
}

// runImage runs cat /greeting in a container of image.
func (s *suite) runImage(ctx context.Context, t *testing.T, image string) string {
	spec := s.spec(t, "built", "cat", "/greeting")
	spec.Image = image
	id := s.run(ctx, t, spec)
	if code, err := s.eng.Wait(ctx, id); err != nil || code != 0 {
		t.Fatalf("container of the built image exited %d, %v", code, err)
	}
	out, _ := s.logs(ctx, t, id, engine.LogOptions{})
	return out
}
