package runtime

import (
	"context"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/composegen/composegen/runtime/composeplan"
	"github.com/composegen/composegen/runtime/engine"
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

// A container of an unknown image that listens, but not on the port the
// compose file declares, fails the start with both ports named, long before
// the start's timeout.
func TestPortElsewhereFailsWithTheListeningPorts(t *testing.T) {
	requireDocker(t)
	t.Parallel()
	plan := &composeplan.Plan{Name: "rt-elsewhere", Services: []composeplan.ServiceSpec{
		{Name: "api", Image: "busybox", Command: []string{"nc", "-ll", "-p", "8081", "-e", "echo", "hi"},
			Ports: []composeplan.PortSpec{{Target: 8080, Protocol: "tcp"}},
			Probe: &composeplan.ProbeSpec{Protocol: "tcp", Port: 8080}},
	}}
	_, err := Up(context.Background(), plan, WithTimeout(2*time.Minute))
	if err == nil {
		t.Fatal("Up succeeded")
	}
	for _, want := range []string{`service "api"`, "nothing listens on container port 8080", "listens on 8081 only", "fix its ports"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "deadline") {
		t.Errorf("failed by the timeout, not by the listening check: %v", err)
	}
}

// TestListenWatchRepeatsItsNote: between two looks at the container (every
// 250ms) each probe failure still gets the last note; diagnostics quote the
// last few probes, 20ms apart, which a note on one probe in twelve missed.
func TestListenWatchRepeatsItsNote(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	// This process stands for the container: it listens on ln's port, and
	// not on port 1.
	s := &replica{stack: &Stack{info: engine.Info{Local: true}}, pid: os.Getpid()}
	w := &listenWatch{s: s, port: 1}
	note, fatal := w.check()
	if !strings.Contains(note, "nothing listens on container port 1; the container listens on ") || fatal {
		t.Fatalf("first check = %q, %v", note, fatal)
	}
	for i := range 5 {
		if again, fatal := w.check(); again != note || fatal {
			t.Fatalf("check %d right after = %q, %v; want the same note, not fatal", i+2, again, fatal)
		}
	}
}
