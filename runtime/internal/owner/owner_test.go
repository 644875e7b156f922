package owner

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// fakeProc builds a /proc with the given processes: pid → (state, start,
// pidns, nspids).
type proc struct {
	state, start, ns string
	nspid            []int
}

func fakeProc(t *testing.T, bootID string, self int, procs map[int]proc) Proc {
	t.Helper()
	root := t.TempDir()
	write := func(name, data string) {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("sys/kernel/random/boot_id", bootID+"\n")
	for pid, p := range procs {
		dir := strconv.Itoa(pid)
		// pid (comm with ) spaces) state ppid ... field 22 = start
		fields := "(my (cmd)) " + p.state + " 1 1 1 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 " + p.start + " 1000 10"
		write(dir+"/stat", dir+" "+fields+"\n")
		status := "Name:\tx\nNSpid:"
		for _, n := range p.nspid {
			status += "\t" + strconv.Itoa(n)
		}
		write(dir+"/status", status+"\n")
		if err := os.MkdirAll(filepath.Join(root, dir, "ns"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink("pid:["+p.ns+"]", filepath.Join(root, dir, "ns/pid")); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(strconv.Itoa(self), filepath.Join(root, "self")); err != nil {
		t.Fatal(err)
	}
	return Proc{Root: root, Hostname: func() (string, error) { return "ci-1", nil }}
}

func TestSelf(t *testing.T) {
	p := fakeProc(t, "boot-a", 42, map[int]proc{42: {state: "S", start: "777", ns: "100", nspid: []int{42}}})
	got := p.Self()
	want := ID{Host: "ci-1", Boot: "boot-a", PidNS: "100", Pid: 42, Start: "777"}
	if got != want {
		t.Fatalf("Self = %+v, want %+v", got, want)
	}
	id, created, ok := FromLabels(got.Labels(time.Unix(1700000000, 0)))
	if !ok || id != want || created.Unix() != 1700000000 {
		t.Fatalf("FromLabels(Labels) = %+v, %v, %v", id, created, ok)
	}
	if _, _, ok := FromLabels(map[string]string{"io.composegen.managed": "true"}); ok {
		t.Fatal("FromLabels without owner labels: ok")
	}
}

func TestJudge(t *testing.T) {
	// This process (pid 10) runs in the root namespace 100; namespace 200
	// is a child (an unshare'd test runner) whose pid 5 is host pid 300.
	p := fakeProc(t, "boot-a", 10, map[int]proc{
		10:  {state: "S", start: "1000", ns: "100", nspid: []int{10}},
		20:  {state: "R", start: "2000", ns: "100", nspid: []int{20}},
		30:  {state: "Z", start: "3000", ns: "100", nspid: []int{30}},
		300: {state: "S", start: "5000", ns: "200", nspid: []int{300, 5}},
	})
	me := p.Self()
	owner := func(pid int, start string) ID {
		return ID{Host: "ci-1", Boot: "boot-a", PidNS: "100", Pid: pid, Start: start}
	}
	for name, tt := range map[string]struct {
		id   ID
		want Verdict
	}{
		"alive":                 {owner(20, "2000"), Alive},
		"gone":                  {owner(21, "2100"), Dead},
		"zombie":                {owner(30, "3000"), Dead},
		"pid reused":            {owner(20, "1999"), Dead},
		"other host":            {ID{Host: "ci-2", Boot: "boot-a", PidNS: "100", Pid: 21, Start: "1"}, Unknown},
		"other boot":            {ID{Host: "ci-1", Boot: "boot-b", PidNS: "100", Pid: 21, Start: "1"}, Unknown},
		"child namespace alive": {ID{Host: "ci-1", Boot: "boot-a", PidNS: "200", Pid: 5, Start: "5000"}, Alive},
		"child namespace gone":  {ID{Host: "ci-1", Boot: "boot-a", PidNS: "200", Pid: 6, Start: "5000"}, Unknown},
		"invisible namespace":   {ID{Host: "ci-1", Boot: "boot-a", PidNS: "999", Pid: 20, Start: "2000"}, Unknown},
		"old labels":            {ID{Host: "ci-1", Pid: 21, Start: "1"}, Unknown},
	} {
		if got := p.Judge(me, tt.id); got != tt.want {
			t.Errorf("%s: Judge = %v, want %v", name, got, tt.want)
		}
	}
}

// The real /proc: this process is alive, a finished child is dead.
func TestJudgeSystem(t *testing.T) {
	me := Self()
	if me.Boot == "" || me.PidNS == "" || me.Start == "" || me.Pid != os.Getpid() {
		t.Fatalf("Self = %+v", me)
	}
	if v := Judge(me); v != Alive {
		t.Fatalf("Judge(self) = %v", v)
	}
	gone := me
	gone.Start = "1"
	if v := Judge(gone); v != Dead {
		t.Fatalf("Judge(self with another start time) = %v", v)
	}
}

func TestProcess(t *testing.T) {
	p := fakeProc(t, "boot-a", 10, map[int]proc{
		10: {state: "S", start: "1000", ns: "100", nspid: []int{10}},
		20: {state: "S", start: "2000", ns: "100", nspid: []int{20}},
		30: {state: "Z", start: "3000", ns: "100", nspid: []int{30}},
	})
	me := p.Self()
	id, ok := p.Process(me, 20)
	want := ID{Host: "ci-1", Boot: "boot-a", PidNS: "100", Pid: 20, Start: "2000"}
	if !ok || id != want {
		t.Fatalf("Process(20) = %+v, %v; want %+v", id, ok, want)
	}
	if p.Judge(me, id) != Alive {
		t.Errorf("Judge(Process(20)) = %v", p.Judge(me, id))
	}
	for _, pid := range []int{30, 99} {
		if id, ok := p.Process(me, pid); ok {
			t.Errorf("Process(%d) = %+v, want not running", pid, id)
		}
	}
}

func TestCommand(t *testing.T) {
	p := fakeProc(t, "boot-a", 10, map[int]proc{10: {state: "S", start: "1", ns: "100"}, 11: {state: "S", start: "2", ns: "100"}})
	if err := os.Symlink("/usr/local/go/bin/go", filepath.Join(p.Root, "10", "exe")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(p.Root, "11", "comm"), []byte("bash\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for pid, want := range map[int]string{10: "go", 11: "bash", 12: ""} {
		if got := p.Command(pid); got != want {
			t.Errorf("Command(%d) = %q, want %q", pid, got, want)
		}
	}
	if got := Command(os.Getpid()); got == "" {
		t.Error("Command(self) is empty")
	}
}
