package readiness

import (
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

func TestParseListening(t *testing.T) {
	table := `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0000000000000000 100 0 0 10 0
   1: 0100007F:1628 0100007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 2 1 0000000000000000 20 4 30 10 -1
   2: 0B00007F:8231 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 3 1 0000000000000000 100 0 0 10 0
`
	table6 := `  sl  local_address                         remote_address                        st
   0: 00000000000000000000000000000000:0050 00000000000000000000000000000000:0000 0A 00000000:00000000
`
	got := map[int]bool{}
	parseListening([]byte(table), got)
	parseListening([]byte(table6), got)
	if len(got) != 2 || !got[8080] || !got[80] {
		t.Errorf("listening = %v, want 8080 and 80 (5672 is an established connection, 33329 Docker's DNS on 127.0.0.11)", got)
	}
}

// This process stands for a container: Listening sees the port it listens
// on.
func TestListeningOfThisProcess(t *testing.T) {
	if _, err := os.Stat("/proc/self/net/tcp"); err != nil {
		t.Skip("no /proc/PID/net/tcp here:", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	ports, ok := Listening(os.Getpid())
	if !ok || !ports[port] {
		t.Errorf("Listening = %v, %v; want port %d", ports, ok, port)
	}
	if _, ok := Listening(0); ok {
		t.Error("Listening(0) is ok")
	}
}

// fakePorts stands for what a container listens on, and counts the looks.
type fakePorts struct {
	ports map[int]bool
	ok    bool
	looks int
}

func (f *fakePorts) read() (map[int]bool, bool) {
	f.looks++
	return f.ports, f.ok
}

// Between two looks at the container (every lookEvery) each probe
// failure still gets the last note; diagnostics quote the last few probes,
// 20ms apart, which a note on one probe in twelve missed.
func TestWatchRepeatsItsNote(t *testing.T) {
	f := &fakePorts{ports: map[int]bool{9090: true, 8081: true}, ok: true}
	w := NewWatch(8080, f.read)
	note, fatal := w.Check(at(0))
	if note != "nothing listens on container port 8080; the container listens on 8081, 9090 only" || fatal {
		t.Fatalf("first check = %q, %v", note, fatal)
	}
	for i := range 5 {
		now := at(time.Duration(i+1) * 20 * time.Millisecond)
		if again, fatal := w.Check(now); again != note || fatal {
			t.Fatalf("check at %s = %q, %v; want the same note, not fatal", now.Sub(t0), again, fatal)
		}
	}
	if f.looks != 1 {
		t.Errorf("%d looks within %s, want 1", f.looks, lookEvery)
	}
	w.Check(at(lookEvery))
	if f.looks != 2 {
		t.Errorf("%d looks after %s, want 2", f.looks, lookEvery)
	}
}

// A container that listens only on other ports fails the wait after
// elsewhereSettle; listening on the port, or on nothing, starts the count
// again.
func TestWatchElsewhereIsFatalAfterTheSettle(t *testing.T) {
	f := &fakePorts{ports: map[int]bool{8081: true}, ok: true}
	w := NewWatch(8080, f.read)
	step := lookEvery
	now := t0
	check := func() (string, bool) {
		now = now.Add(step)
		return w.Check(now)
	}
	first := now.Add(step)
	for {
		note, fatal := check()
		if !strings.Contains(note, "listens on 8081 only") {
			t.Fatalf("note = %q", note)
		}
		if fatal {
			if d := now.Sub(first); d != elsewhereSettle {
				t.Errorf("fatal after %s elsewhere, want %s", d, elsewhereSettle)
			}
			break
		}
		if now.Sub(first) > elsewhereSettle {
			t.Fatal("never fatal")
		}
	}
	// Nothing listens: a note, not fatal, and the count starts again.
	f.ports = map[int]bool{}
	if note, fatal := check(); note != "nothing listens in the container on any TCP port yet" || fatal {
		t.Errorf("nothing listening: %q, %v", note, fatal)
	}
	f.ports = map[int]bool{8081: true}
	if _, fatal := check(); fatal {
		t.Error("fatal at once after the count started again")
	}
	// Listening on the port: no note.
	f.ports = map[int]bool{8080: true, 8081: true}
	if note, fatal := check(); note != "" || fatal {
		t.Errorf("listening on the port: %q, %v", note, fatal)
	}
	// What cannot be read says nothing.
	f.ok = false
	if note, fatal := check(); note != "" || fatal {
		t.Errorf("unreadable: %q, %v", note, fatal)
	}
}

func TestPortList(t *testing.T) {
	ports := map[int]bool{}
	for _, p := range []int{9090, 80, 8080, 443} {
		ports[p] = true
	}
	if got := portList(ports); got != "80, 443, 8080, 9090" {
		t.Errorf("portList = %q", got)
	}
}
