package reap

import (
	"context"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/composegen/composegen/runtime/internal/label"
	"github.com/composegen/composegen/runtime/internal/owner"
)

// addProject gives project a volume and a network owned by id, created at
// created, with extra labels.
func addProject(eng *fakeEngine, project string, id owner.ID, created time.Time, extra map[string]string) {
	l := id.Labels(created)
	l[label.Project] = project
	l[label.Managed] = "true"
	for k, v := range extra {
		l[k] = v
	}
	eng.add("volume", project+"_data", l)
	eng.add("network", project+"_default", l)
}

// deadOwner is this process's pid with another start time: a previous
// process under the same pid, provably gone.
func deadOwner() owner.ID {
	id := owner.Self()
	id.Start = "1"
	return id
}

// The reaper removes what it can prove dead, and what it cannot judge only
// after the age limit; it never touches a live owner's stack or a kept one
// (prune removes kept ones).
func TestProjectsVerdicts(t *testing.T) {
	eng := newFake(t)
	me := owner.Self()
	dead := deadOwner()
	otherNS := me
	otherNS.PidNS = "999999"
	old := time.Now().Add(-7 * time.Hour)
	addProject(eng, "live", me, time.Now(), nil)
	addProject(eng, "dead", dead, time.Now(), nil)
	addProject(eng, "young-unknown", otherNS, time.Now(), nil)
	addProject(eng, "old-unknown", otherNS, old, nil)
	addProject(eng, "kept", dead, time.Now(), nil)
	keep := dead.Labels(time.Now())
	keep[label.Project], keep[label.Managed], keep[label.Keep] = "kept", "true", "failure"
	eng.add("volume", "kept_composegen-keep", keep)
	addProject(eng, "foreign", dead, time.Now(), map[string]string{label.Managed: "false"})

	pruned, err := Projects(context.Background(), eng, Policy{MaxAge: 6 * time.Hour}, Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, p := range pruned {
		got[p.Project] = p.Reason
		if p.Resources != 2 || len(p.Removed) != 2 {
			t.Errorf("%s: %d resources removed (%v), want 2", p.Project, p.Resources, p.Removed)
		}
	}
	if len(got) != 2 || got["dead"] != "its owner process is gone" || !strings.Contains(got["old-unknown"], "more than 6h0m0s") {
		t.Fatalf("reaped %v, want dead and old-unknown", got)
	}
	left := eng.projects()
	for _, p := range []string{"live", "young-unknown", "kept", "foreign"} {
		if !left[p] {
			t.Errorf("%s was removed", p)
		}
	}
	// Prune: kept stacks go too, never a live one.
	pruned, err = Projects(context.Background(), eng, Policy{MaxAge: 6 * time.Hour, Kept: true}, Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	if len(pruned) != 1 || pruned[0].Project != "kept" || pruned[0].Resources != 3 || pruned[0].Reason != "kept (failure)" {
		t.Fatalf("prune removed %+v, want the kept project's 3 resources", pruned)
	}
	// One project by name: whatever its age, unless its owner runs.
	for _, p := range []string{"young-unknown", "live"} {
		pruned, err = Projects(context.Background(), eng, Policy{Project: p, Kept: true}, Hooks{})
		if err != nil {
			t.Fatal(err)
		}
		if (len(pruned) == 1) != (p == "young-unknown") {
			t.Errorf("prune -p %s removed %+v", p, pruned)
		}
	}
	if left := eng.projects(); !left["live"] || left["young-unknown"] || !left["foreign"] {
		t.Errorf("left %v", left)
	}
}

// A project that a live process uses (Claim refuses it) is reported as
// skipped and keeps its resources; a removed one is released as gone and
// handed to Gone; a named removal claims as its own.
func TestProjectsClaims(t *testing.T) {
	for _, named := range []bool{false, true} {
		eng := newFake(t)
		dead := deadOwner()
		addProject(eng, "busy", dead, time.Now(), map[string]string{label.SharedPlan: "chain"})
		addProject(eng, "free", dead, time.Now(), nil)
		releases := map[string][]bool{}
		var gone, owns []string
		h := Hooks{
			Claim: func(ctx context.Context, p string, own bool) (func(bool), bool) {
				if own {
					owns = append(owns, p)
				}
				if p == "busy" {
					return nil, false
				}
				return func(g bool) { releases[p] = append(releases[p], g) }, true
			},
			Gone: func(p string) { gone = append(gone, p) },
		}
		policy := Policy{MaxAge: time.Hour}
		if named {
			policy.Project = "free"
		}
		pruned, err := Projects(context.Background(), eng, policy, h)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, p := range pruned {
			names = append(names, p.Project)
			switch {
			case p.Project == "busy" && (!p.Skipped || p.Resources != 0 || p.Shared != "chain" || !strings.Contains(p.Reason, "running process uses it")):
				t.Errorf("named=%v: busy reported as %+v", named, p)
			case p.Project == "free" && (p.Skipped || p.Resources != 2):
				t.Errorf("named=%v: free reported as %+v", named, p)
			}
		}
		want := []string{"busy", "free"}
		wantOwns := []string(nil)
		if named {
			want, wantOwns = []string{"free"}, []string{"free"}
		}
		if strings.Join(names, ",") != strings.Join(want, ",") {
			t.Errorf("named=%v: reported %v, want %v (sorted)", named, names, want)
		}
		if strings.Join(owns, ",") != strings.Join(wantOwns, ",") {
			t.Errorf("named=%v: claimed as own %v, want %v", named, owns, wantOwns)
		}
		if r := releases["free"]; len(r) != 1 || !r[0] {
			t.Errorf("named=%v: free released %v, want once as gone", named, r)
		}
		if strings.Join(gone, ",") != "free" {
			t.Errorf("named=%v: Gone called for %v, want free", named, gone)
		}
		if left := eng.projects(); !left["busy"] || left["free"] {
			t.Errorf("named=%v: left %v", named, left)
		}
	}
}

// Every removal is reported by name, sorted.
func TestProjectsReportsRemoved(t *testing.T) {
	eng := newFake(t)
	addProject(eng, "p", deadOwner(), time.Now(), nil)
	l := deadOwner().Labels(time.Now())
	l[label.Project], l[label.Managed] = "p", "true"
	eng.add("container", "p-web-1", l)
	pruned, err := Projects(context.Background(), eng, Policy{MaxAge: time.Hour}, Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"container p-web-1", "network p_default", "volume p_data"}
	if len(pruned) != 1 || strings.Join(pruned[0].Removed, ",") != strings.Join(want, ",") || !sort.StringsAreSorted(pruned[0].Removed) {
		t.Fatalf("pruned %+v, want %v", pruned, want)
	}
}

func TestOrphanAge(t *testing.T) {
	for v, want := range map[string]time.Duration{
		"":      6 * time.Hour,
		"90m":   90 * time.Minute,
		"bogus": 6 * time.Hour,
		"-1h":   6 * time.Hour,
		"0s":    6 * time.Hour,
	} {
		t.Setenv("COMPOSEGEN_ORPHAN_AGE", v)
		if got := OrphanAge(); got != want {
			t.Errorf("COMPOSEGEN_ORPHAN_AGE=%q: %v, want %v", v, got, want)
		}
	}
}
