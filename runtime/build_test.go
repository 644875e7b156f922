package runtime

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	dt "github.com/ory/dockertest/v3/docker"

	"github.com/composegen/composegen/runtime/internal/interp"
	"github.com/composegen/composegen/runtime/internal/label"
	"github.com/composegen/composegen/runtime/internal/lock"
	"github.com/composegen/composegen/runtime/internal/mask"
	"github.com/composegen/composegen/runtime/internal/reap"

	"github.com/composegen/composegen/runtime/composeplan"
	"github.com/composegen/composegen/runtime/engine"
	"github.com/composegen/composegen/runtime/internal/engines"
)

// countingEngine is the test engine with its builds counted.
type countingEngine struct {
	engine.Engine
	builds atomic.Int64
}

func (e *countingEngine) Build(ctx context.Context, spec engine.BuildSpec, out io.Writer) error {
	e.builds.Add(1)
	return e.Engine.Build(ctx, spec, out)
}

var countingSeq atomic.Int64

// newCountingEngine registers the test engine wrapped to count its builds
// and returns its name for WithEngine.
func newCountingEngine(t *testing.T) (string, *countingEngine) {
	t.Helper()
	inner, err := engines.Open(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	ce := &countingEngine{Engine: inner}
	name := "counting-" + strconv.Itoa(os.Getpid()) + "-" + strconv.FormatInt(countingSeq.Add(1), 10)
	engine.Register(name, func(context.Context) (engine.Engine, error) { return ce, nil })
	return name, ce
}

// imageJanitor removes, at the end of the test, every image the test
// built: each id it was shown, and the names.
type imageJanitor struct {
	mu  sync.Mutex
	ids map[string]bool
}

func newImageJanitor(t *testing.T, c *dt.Client, names ...string) *imageJanitor {
	j := &imageJanitor{ids: map[string]bool{}}
	t.Cleanup(func() {
		for _, n := range names {
			_ = c.RemoveImageExtended(n, dt.RemoveImageOptions{Force: true})
		}
		j.mu.Lock()
		defer j.mu.Unlock()
		for id := range j.ids {
			_ = c.RemoveImageExtended(id, dt.RemoveImageOptions{Force: true})
		}
	})
	return j
}

func (j *imageJanitor) add(id string) {
	j.mu.Lock()
	j.ids[id] = true
	j.mu.Unlock()
}

// An edited build context is rebuilt at the next start, an unchanged one
// (or one whose only edit is a file that .dockerignore excludes) is not;
// WithBuild builds once per go test run.
func TestBuildRebuildsWhatChanged(t *testing.T) {
	requireDocker(t)
	t.Parallel()
	c := testClient(t)
	engName, eng := newCountingEngine(t)
	name := "rt-bctx-" + strconv.Itoa(os.Getpid())
	image := normalizeProjectName(name) + "-web"
	janitor := newImageJanitor(t, c, image)
	dir := projectDir(t, map[string]string{
		"web/Dockerfile":    "FROM busybox\nLABEL composegen.test=" + name + "\nCOPY . /srv/\nCMD [\"sleep\", \"300\"]\n",
		"web/index.html":    "one\n",
		"web/.dockerignore": "notes.txt\n",
		"web/notes.txt":     "n1\n",
	})
	plan := &composeplan.Plan{Name: name, Services: []composeplan.ServiceSpec{{Name: "web", Build: &composeplan.BuildSpec{Context: "web"}, Lifecycle: composeplan.LifecycleWorker}}}
	ctx := context.Background()
	forgetForcedBuild(t, eng, image)
	removeBuildFiles(t, eng, image)
	start := func(what, want string, opts ...Option) (id string, built int64) {
		t.Helper()
		n0 := eng.builds.Load()
		t0 := time.Now()
		s, err := Up(ctx, plan, append([]Option{WithEngine(engName), WithDir(dir)}, opts...)...)
		took := time.Since(t0)
		if s != nil {
			defer func() { _ = s.Down(ctx) }()
		}
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		img, err := c.InspectImage(image)
		if err != nil {
			t.Fatalf("%s: the built image is not named %s: %v", what, image, err)
		}
		janitor.add(img.ID)
		if got := sh(t, s.Service("web"), "cat /srv/index.html"); got != want {
			t.Errorf("%s: index.html = %q, want %q", what, got, want)
		}
		ct, err := c.InspectContainer(s.Service("web").ContainerID())
		if err != nil {
			t.Fatal(err)
		}
		if ct.Image != img.ID {
			t.Errorf("%s: the container runs %s, not the image built for its context %s", what, ct.Image, img.ID)
		}
		if img.Config.Labels[labelBuildHash] == "" {
			t.Errorf("%s: the image has no %s label", what, labelBuildHash)
		}
		built = eng.builds.Load() - n0
		t.Logf("%s: Up %s, %d build(s)", what, took.Round(time.Millisecond), built)
		return img.ID, built
	}
	edit := func(f, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, "web", f), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	id1, b := start("first start", "one")
	if b != 1 {
		t.Errorf("first start: %d builds, want 1", b)
	}
	id, b := start("unchanged", "one")
	if b != 0 || id != id1 {
		t.Errorf("unchanged context: %d builds, image %s (was %s); want no build, the same image", b, id, id1)
	}
	edit("notes.txt", "n2\n")
	if id, b = start("ignored file edited", "one"); b != 0 || id != id1 {
		t.Errorf("a .dockerignore'd edit: %d builds, image %s (was %s); want no build, the same image", b, id, id1)
	}
	edit("index.html", "two\n")
	id2, b := start("index.html edited", "two")
	if b != 1 || id2 == id1 {
		t.Errorf("an edited context: %d builds, image %s (was %s); want a build, a new image", b, id2, id1)
	}
	if id, b = start("unchanged again", "two"); b != 0 || id != id2 {
		t.Errorf("unchanged after the edit: %d builds; want none", b)
	}
	if _, b = start("WithBuild", "two", WithBuild()); b != 1 {
		t.Errorf("WithBuild: %d builds, want 1", b)
	}
	if _, b = start("WithBuild again in the same run", "two", WithBuild()); b != 0 {
		t.Errorf("WithBuild a second time in the run: %d builds, want 0 (once per run)", b)
	}
	// Back to the first content: the hash is the first one again, whose
	// image the second build replaced under the name: built again.
	edit("index.html", "one\n")
	if _, b = start("reverted", "one"); b != 1 {
		t.Errorf("reverted context: %d builds, want 1", b)
	}

	// What a start costs for the image: the hash of the context and an
	// inspect when it is unchanged, against a build.
	bt, err := resolveBuild(newTestResolver(t, dir), dir, name, &plan.Services[0], true)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	if _, err := ensureBuilt(ctx, eng, bt, false); err != nil {
		t.Fatal(err)
	}
	hit := time.Since(t0)
	edit("index.html", "three\n")
	t0 = time.Now()
	bt, err = resolveBuild(newTestResolver(t, dir), dir, name, &plan.Services[0], true)
	if err != nil {
		t.Fatal(err)
	}
	hashed := time.Since(t0)
	id, err = ensureBuilt(ctx, eng, bt, false)
	if err != nil {
		t.Fatal(err)
	}
	janitor.add(id)
	t.Logf("image of an unchanged context: %s (hash and inspect); edited context: hash %s, hash and build %s",
		hit.Round(time.Microsecond), hashed.Round(time.Microsecond), time.Since(t0).Round(time.Millisecond))
}

// forgetForcedBuild forgets that this go test run forced the build of
// image, as a new run would.
func forgetForcedBuild(t *testing.T, eng engine.Engine, image string) {
	t.Helper()
	_ = os.Remove(filepath.Join(lock.Root(), "build-"+lock.FileName(eng.Info().Endpoint+" "+image)+".forced"))
}

// removeBuildFiles removes, at the end of the test, the lock and marker
// files of the builds of image.
func removeBuildFiles(t *testing.T, eng engine.Engine, image string) {
	t.Cleanup(func() {
		base := filepath.Join(lock.Root(), "build-"+lock.FileName(eng.Info().Endpoint+" "+image))
		_ = os.Remove(base + ".forced")
		_ = os.Remove(base + ".lock")
	})
}

func newTestResolver(t *testing.T, dir string) *interp.Resolver {
	t.Helper()
	res, err := interp.New(dir, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// Concurrent starts of one image build it once, and none fails.
func TestBuildConcurrentStartsBuildOnce(t *testing.T) {
	requireDocker(t)
	t.Parallel()
	c := testClient(t)
	engName, eng := newCountingEngine(t)
	name := "rt-bconc-" + strconv.Itoa(os.Getpid())
	image := normalizeProjectName(name) + "-app"
	janitor := newImageJanitor(t, c, image)
	removeBuildFiles(t, eng, image)
	dir := projectDir(t, map[string]string{"app/Dockerfile": "FROM busybox\nRUN echo " + name + " > /built\nCMD [\"sleep\", \"300\"]\n"})
	plan := &composeplan.Plan{Name: name, Services: []composeplan.ServiceSpec{{Name: "app", Build: &composeplan.BuildSpec{Context: "app"}, Lifecycle: composeplan.LifecycleWorker}}}
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := Up(context.Background(), plan, WithEngine(engName), WithDir(dir))
			if s != nil {
				defer func() { _ = s.Down(context.Background()) }()
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	if img, err := c.InspectImage(image); err == nil {
		janitor.add(img.ID)
	}
	for i, err := range errs {
		if err != nil {
			t.Errorf("start %d: %v", i, err)
		}
	}
	if n := eng.builds.Load(); n != 1 {
		t.Errorf("4 concurrent starts built %d times, want 1", n)
	}
}

// A kept (reused) shared stack whose build context changed is replaced,
// not attached to and not left beside the new one; a forced build
// (WithBuild, COMPOSEGEN_BUILD=1) that makes another image replaces it too,
// and one that makes the same image attaches.
func TestSharedReuseBuild(t *testing.T) {
	requireDocker(t)
	t.Parallel()
	c := testClient(t)
	engName, eng := newCountingEngine(t)
	pid := strconv.Itoa(os.Getpid())
	baseRepo := "composegen-test-bbase"
	if err := c.TagImage("busybox", dt.TagImageOptions{Repo: baseRepo, Tag: pid}); err != nil {
		t.Fatal(err)
	}
	name := "rt-sbuild-" + pid
	planName := normalizeProjectName(name)
	janitor := newImageJanitor(t, c, baseRepo+":"+pid, planName+"-web")
	dir := projectDir(t, map[string]string{
		"web/Dockerfile": "FROM " + baseRepo + ":" + pid + "\nLABEL composegen.test=" + name + "\nCOPY index.html /srv/\nCMD [\"sleep\", \"300\"]\n",
		"web/index.html": "one\n",
	})
	ctx := context.Background()
	te, err := getEngine(ctx)
	if err != nil {
		t.Fatal(err)
	}
	forgetForcedBuild(t, eng, planName+"-web")
	removeBuildFiles(t, eng, planName+"-web")
	t.Cleanup(func() {
		removed, _ := reap.Remove(context.Background(), te.eng, map[string]string{label.Managed: "true", label.SharedPlan: planName}, nil, nil)
		for _, r := range removed {
			lock.RemoveProjectDir(r.Labels[label.Project])
			removeKeptDir(r.Labels[label.Project])
		}
	})
	// stacks are the shared stacks of the plan on the engine (their keys).
	stacks := func() []string {
		list, err := te.eng.List(ctx, map[string]string{label.Managed: "true", label.SharedPlan: planName})
		if err != nil {
			t.Fatal(err)
		}
		keys := map[string]bool{}
		for _, r := range list {
			keys[r.Labels[label.Shared]] = true
		}
		var out []string
		for k := range keys {
			out = append(out, k)
		}
		sort.Strings(out)
		return out
	}
	acquire := func(what, want string, opts ...Option) (*Stack, int64) {
		t.Helper()
		n0 := eng.builds.Load()
		plan := &composeplan.Plan{Name: name, Services: []composeplan.ServiceSpec{{Name: "web", Build: &composeplan.BuildSpec{Context: "web"}, Lifecycle: composeplan.LifecycleWorker}}}
		cfg := newConfig(append([]Option{WithReuse(), WithEngine(engName), WithDir(dir), WithLogf(t.Logf)}, opts...))
		s, err := shared(ctx, plan, cfg, dir)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if img, err := c.InspectImage(planName + "-web"); err == nil {
			janitor.add(img.ID)
		}
		if got := sh(t, s.Service("web"), "cat /srv/index.html"); got != want {
			t.Errorf("%s: index.html = %q, want %q", what, got, want)
		}
		if k := stacks(); len(k) != 1 || k[0] != s.sharedKey {
			t.Errorf("%s: shared stacks of the plan on the engine: %d (%v), want only this one", what, len(k), k)
		}
		// Each call stands for a run of its own: this one ends, so the
		// next may replace its stack (a stack in use stays: see lock.ClaimForRemoval).
		lock.ReleaseInUse(s.project)
		return s, eng.builds.Load() - n0
	}

	s1, b := acquire("first", "one")
	if b != 1 {
		t.Errorf("first: %d builds, want 1", b)
	}
	s2, b := acquire("unchanged", "one")
	if s2.project != s1.project || b != 0 {
		t.Errorf("unchanged: stack %s with %d builds, want the kept %s without a build", s2.project, b, s1.project)
	}
	if err := os.WriteFile(filepath.Join(dir, "web", "index.html"), []byte("two\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s3, b := acquire("context edited", "two")
	if s3.project == s1.project || b != 1 {
		t.Errorf("edited context: stack %s with %d builds, want a new stack and a build", s3.project, b)
	}
	// WithBuild with nothing changed: the build makes the same image
	// (build cache), so the kept stack is the right one. When the
	// engine's cache misses (Podman's did, under load), the build makes
	// another image, and the kept stack is replaced: what runs is what
	// was built.
	imageID := func() string {
		img, err := c.InspectImage(planName + "-web")
		if err != nil {
			t.Fatal(err)
		}
		return img.ID
	}
	before := imageID()
	s4, b := acquire("WithBuild, nothing changed", "two", WithBuild())
	kept := s3
	switch same := imageID() == before; {
	case b != 1:
		t.Errorf("WithBuild, nothing changed: %d builds, want 1", b)
	case same && s4.project != s3.project:
		t.Errorf("WithBuild, nothing changed, same image: stack %s, want the kept %s", s4.project, s3.project)
	case !same && s4.project == s3.project:
		t.Errorf("WithBuild, nothing changed, but the engine's build made another image: the kept stack %s stayed, want a new one", s3.project)
	case !same:
		t.Logf("the engine's build cache missed: another image, and stack %s replaced %s", s4.project, s3.project)
		kept = s4
	}
	// A new local base image, which the hash cannot see: WithBuild makes
	// another image, and the kept stack is replaced.
	var out strings.Builder
	if err := c.BuildImage(dt.BuildImageOptions{Name: baseRepo + ":" + pid, ContextDir: projectDir(t, map[string]string{"Dockerfile": "FROM busybox\nLABEL composegen.test=newbase-" + pid + "\n"}),
		OutputStream: &out, RmTmpContainer: true, ForceRmTmpContainer: true}); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if img, err := c.InspectImage(baseRepo + ":" + pid); err == nil {
		janitor.add(img.ID)
	}
	s5, b := acquire("no WithBuild, new base", "two")
	if s5.project != kept.project || b != 0 {
		t.Errorf("new base without WithBuild: stack %s with %d builds, want the kept %s (the hash does not see the base)", s5.project, b, kept.project)
	}
	forgetForcedBuild(t, eng, planName+"-web") // a new go test run
	s6, b := acquire("WithBuild, new base", "two", WithBuild())
	if b != 1 || s6.project == kept.project {
		t.Errorf("WithBuild, new base: stack %s with %d builds, want a build and a new stack", s6.project, b)
	}
	s7, b := acquire("next run without WithBuild", "two")
	if b != 0 || s7.project != s6.project {
		t.Errorf("after WithBuild: stack %s with %d builds, want the kept %s without a build", s7.project, b, s6.project)
	}
}

// imageStore is an engine whose images live in memory: Build makes an
// image whose id follows from its build hash (and a generation, to make
// another image of the same hash), counted.
type imageStore struct {
	engine.Engine
	mu     sync.Mutex
	images map[string]engine.ImageInfo
	gen    int
	builds int
	delay  time.Duration
}

func newImageStore() *imageStore {
	return &imageStore{Engine: keyEngine(), images: map[string]engine.ImageInfo{}}
}

func (e *imageStore) Image(ctx context.Context, ref string) (engine.ImageInfo, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if img, ok := e.images[ref]; ok {
		return img, nil
	}
	return engine.ImageInfo{}, engine.ErrNotFound
}

func (e *imageStore) Build(ctx context.Context, spec engine.BuildSpec, out io.Writer) error {
	time.Sleep(e.delay)
	e.mu.Lock()
	defer e.mu.Unlock()
	e.builds++
	e.images[spec.Tag] = engine.ImageInfo{ID: "sha256:" + spec.Labels[labelBuildHash][:12] + "-" + strconv.Itoa(e.gen), Labels: spec.Labels}
	return nil
}

// The shared key follows a build section's hash and built image: an edited
// context, Dockerfile or build arg changes the key (never the origin), an
// ignored file does not; a forced build changes it only when it made
// another image; a service that does not run is hashed, not built.
func TestSharedKeyBuild(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("web/Dockerfile", "FROM busybox\nCOPY . /srv\n")
	write("web/index.html", "one\n")
	write("web/.dockerignore", "*.md\n")
	write("web/notes.md", "notes\n")
	write("tools/Dockerfile", "FROM busybox\n")
	plan := func() *composeplan.Plan {
		return &composeplan.Plan{Name: "keys-build", Services: []composeplan.ServiceSpec{
			{Name: "web", Build: &composeplan.BuildSpec{Context: "web", Args: map[string]string{"TOKEN": "${KEY_BUILD_TOKEN:-none}"}}},
			{Name: "tools", Build: &composeplan.BuildSpec{Context: "tools"}, Profiles: []string{"tools"}},
		}}
	}
	eng := newImageStore()
	keys := func(opts ...Option) sharedKeys {
		t.Helper()
		cfg := newConfig(append([]Option{WithReuse()}, opts...))
		res, err := interp.New(dir, nil, cfg.env, &mask.Masker{})
		if err != nil {
			t.Fatal(err)
		}
		k, err := computeKeys(context.Background(), eng, plan(), cfg, dir, res, "")
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	t.Setenv("COMPOSEGEN_BUILD", "")
	forgetForcedBuild(t, eng, "keys-build-web")
	removeBuildFiles(t, eng, "keys-build-web")
	base := keys()
	if eng.builds != 1 {
		t.Fatalf("the first key built %d images, want 1 (web; tools does not run)", eng.builds)
	}
	if _, err := eng.Image(context.Background(), "keys-build-tools"); err == nil {
		t.Error("the image of tools, whose profile is not active, was built")
	}
	if k := keys(); k != base || eng.builds != 1 {
		t.Errorf("unchanged: key changed %v, %d builds; want the same key, no build", k != base, eng.builds-1)
	}
	same := func(what string) {
		t.Helper()
		if k := keys(); k != base {
			t.Errorf("%s changed the key", what)
		}
	}
	changed := func(what string, opts ...Option) sharedKeys {
		t.Helper()
		k := keys(opts...)
		if k.key == base.key || k.origin != base.origin {
			t.Errorf("%s: key changed %v, origin changed %v; want true, false", what, k.key != base.key, k.origin != base.origin)
		}
		return k
	}
	write("web/notes.md", "edited\n")
	same("an edit of a .dockerignore'd file")
	write("tools/Dockerfile", "FROM busybox\nRUN true\n")
	changed("an edit of the Dockerfile of a service that does not run")
	write("tools/Dockerfile", "FROM busybox\n")
	same("the Dockerfile back")

	write("web/index.html", "two\n")
	changed("an edited context")
	write("web/index.html", "one\n")
	t.Setenv("KEY_BUILD_TOKEN", "s3cret")
	changed("a build arg")
	t.Setenv("KEY_BUILD_TOKEN", "")
	same("the build arg back")

	// A forced build that makes the same image: the same key, the same
	// origin (WithBuild is no option of the key). One that makes another
	// image: another key, the same origin, so that it replaces the kept
	// stack.
	n := eng.builds
	if k := keys(WithBuild()); k != base || eng.builds != n+1 {
		t.Errorf("WithBuild making the same image: key changed %v, origin changed %v, %d builds; want neither, 1 build", k.key != base.key, k.origin != base.origin, eng.builds-n)
	}
	if k := keys(WithBuild()); k != base || eng.builds != n+1 {
		t.Errorf("WithBuild again in the run: %d builds, want none", eng.builds-n-1)
	}
	forgetForcedBuild(t, eng, "keys-build-web") // a new go test run
	eng.gen++
	changed("WithBuild making another image", WithBuild())
}

// The build hash follows the build's parameters, and never shows a value.
func TestBuildHash(t *testing.T) {
	base := engine.BuildSpec{Dockerfile: "Dockerfile", Target: "dev", Platform: "linux/amd64", Args: map[string]string{"A": "1", "TOKEN": "hunter2"}}
	h := buildHash("digest", base)
	if strings.Contains(h, "hunter2") || len(h) != 64 {
		t.Fatalf("hash %q", h)
	}
	variants := map[string]func(s *engine.BuildSpec){
		"dockerfile": func(s *engine.BuildSpec) { s.Dockerfile = "Other" },
		"target":     func(s *engine.BuildSpec) { s.Target = "prod" },
		"platform":   func(s *engine.BuildSpec) { s.Platform = "linux/arm64" },
		"arg value":  func(s *engine.BuildSpec) { s.Args = map[string]string{"A": "1", "TOKEN": "hunter3"} },
		"arg name":   func(s *engine.BuildSpec) { s.Args = map[string]string{"A": "1", "TOKEN2": "hunter2"} },
		"arg added":  func(s *engine.BuildSpec) { s.Args = map[string]string{"A": "1", "TOKEN": "hunter2", "B": ""} },
		"framing":    func(s *engine.BuildSpec) { s.Args = map[string]string{"A": "1TOKEN", "": "hunter2"} },
	}
	for name, f := range variants {
		s := base
		f(&s)
		if buildHash("digest", s) == h {
			t.Errorf("%s: same hash", name)
		}
	}
	if buildHash("digest2", base) == h {
		t.Error("another context digest: same hash")
	}
	same := base
	same.Args = map[string]string{"TOKEN": "hunter2", "A": "1"}
	same.Labels = map[string]string{"x": "y"}
	if buildHash("digest", same) != h {
		t.Error("the same build with its args in another order (and labels) has another hash")
	}
}

// noBuildEngine is a fake engine that cannot build, as Kubernetes.
type noBuildEngine struct{ *fakeEngine }

func (e noBuildEngine) Info() engine.Info {
	i := e.fakeEngine.Info()
	i.NoBuild = true
	return i
}

func (e noBuildEngine) Build(ctx context.Context, spec engine.BuildSpec, out io.Writer) error {
	return errors.New("build " + spec.Tag + ": a Kubernetes cluster cannot build images: build it and push it")
}

// On an engine that cannot build, a build section's image is used as the
// engine has it (no build hash), and a missing one fails with the engine's
// refusal.
func TestBuildOnEngineThatCannotBuild(t *testing.T) {
	// A server that answers at once: the test is about the build section,
	// and a service that never answers or exits would cost the start a wait.
	fe := newFakeEngine(t, map[string]behaviour{"present": {listenAfter: time.Millisecond, protocol: "redis"}})
	eng := noBuildEngine{fe}
	t.Setenv("COMPOSEGEN_NO_WATCHER", "1")
	name := "fake-nobuild-" + strconv.Itoa(int(fakeSeq.Add(1)))
	engine.Register(name, func(context.Context) (engine.Engine, error) { return eng, nil })
	dir := t.TempDir()
	up := func(image string) error {
		app := server("app", image)
		app.Build = &composeplan.BuildSpec{Context: "app"}
		s, err := Up(context.Background(), fakePlan(app), WithEngine(name), WithDir(dir))
		if s != nil {
			_ = s.Down(context.Background())
		}
		return err
	}
	if err := up("present"); err != nil {
		t.Errorf("a present image with a build section (and no context here): %v", err)
	}
	err := up("absent")
	if err == nil || !strings.Contains(err.Error(), "cannot build images") || !strings.Contains(err.Error(), `service "app"`) {
		t.Errorf("an absent image: %v, want the engine's refusal naming the service", err)
	}
}

// Processes that need the same image at once take turns through the
// build's file lock (a lock on another open file, as another process
// takes it): one builds, the others use its image, none fails.
func TestBuildLockedOnce(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "app"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "app", "Dockerfile"), []byte("FROM busybox\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	eng := newImageStore()
	eng.delay = 100 * time.Millisecond
	image := "locked-" + strconv.Itoa(os.Getpid())
	removeBuildFiles(t, eng, image)
	sp := &composeplan.ServiceSpec{Name: "app", Image: image, Build: &composeplan.BuildSpec{Context: "app"}}
	bt, err := resolveBuild(newTestResolver(t, dir), dir, "p", sp, true)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	ids := make([]string, 3)
	errs := make([]error, 3)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ids[i], errs[i] = buildLocked(context.Background(), eng, bt, false)
		}()
	}
	wg.Wait()
	for i := range ids {
		if errs[i] != nil || ids[i] == "" || ids[i] != ids[0] {
			t.Errorf("caller %d: %q, %v; want the image %q", i, ids[i], errs[i], ids[0])
		}
	}
	if eng.builds != 1 {
		t.Errorf("3 callers at once built %d times, want 1", eng.builds)
	}
}
