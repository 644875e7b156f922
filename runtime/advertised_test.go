package runtime

import (
	"context"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/composegen/composegen/runtime/composeplan"
)

func TestReplacePort(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"PLAINTEXT://kafka:29092,HOST://localhost:9092", "PLAINTEXT://kafka:29092,HOST://localhost:4242"},
		{"HOST://localhost:90921", "HOST://localhost:90921"},
		{"a://localhost:9092,b://localhost:9092", "a://localhost:4242,b://localhost:4242"},
	} {
		if got := replacePort(tc.in, "localhost:9092", "localhost:4242"); got != tc.want {
			t.Errorf("replacePort(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// A broker that advertises localhost:<published port> gets a free host
// port, and the address it advertises is rewritten to it, in the
// environment and the command, for each of two parallel stacks.
func TestAdvertisedPortsRewritten(t *testing.T) {
	requireDocker(t)
	t.Parallel()
	plan := &composeplan.Plan{Name: "rt-adv", Services: []composeplan.ServiceSpec{{
		Name: "broker", Image: "busybox",
		Command: []string{"sh", "-c", "echo advertise=127.0.0.1:19092; exec sleep 300"},
		Environment: []composeplan.EnvVar{
			{Name: "ADV", Value: "INTERNAL://broker:29092,HOST://localhost:9092"},
		},
		Ports: []composeplan.PortSpec{
			{Target: 9092, Protocol: "tcp", Published: "9092", Advertised: []string{"ADV"}},
			{Target: 19092, Protocol: "tcp", Published: "19092", Advertised: []string{"command"}},
		},
	}}}
	var wg sync.WaitGroup
	seen := make([]string, 2)
	for i := range seen {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			s, err := Up(context.Background(), plan)
			if err != nil {
				t.Error(err)
				return
			}
			defer s.Down(context.Background())
			b := s.Service("broker")
			hp := b.Port(9092, "tcp").HostPort
			if hp == 9092 {
				t.Error("advertised port bound as written")
			}
			want := "INTERNAL://broker:29092,HOST://localhost:" + strconv.Itoa(hp)
			if got := b.Env("ADV"); got != want {
				t.Errorf("Env(ADV) = %q, want %q", got, want)
			}
			res, err := b.Exec(context.Background(), "sh", "-c", "echo $ADV")
			if err != nil || strings.TrimSpace(res.Stdout) != want {
				t.Errorf("container's ADV = %q, %v; want %q", res.Stdout, err, want)
			}
			logs, _ := b.Logs(context.Background())
			if w := "advertise=127.0.0.1:" + strconv.Itoa(b.Port(19092, "tcp").HostPort); !strings.Contains(logs, w) {
				t.Errorf("command not rewritten: logs %q, want %q", logs, w)
			}
			seen[i] = want
		}(i)
	}
	wg.Wait()
	if seen[0] != "" && seen[0] == seen[1] {
		t.Errorf("parallel stacks advertise the same address %q", seen[0])
	}
}

// Advertised ports are picked below the kernel's ephemeral range, where the
// engine allocates the other stacks' host ports: a port picked there could
// be given to another container before this one starts.
func TestFreePortBelowTheEphemeralRange(t *testing.T) {
	lo := ephemeralLow()
	for range 200 {
		p, err := freePort()
		if err != nil {
			t.Fatal(err)
		}
		if p < advertisedLow || p >= lo {
			t.Fatalf("picked %d, want a port in [%d, %d)", p, advertisedLow, lo)
		}
	}
	// A port in use is never picked.
	busy := map[int]bool{}
	for p := advertisedLow; p < advertisedLow+2000; p++ {
		if l, err := net.Listen("tcp", ":"+strconv.Itoa(p)); err == nil {
			t.Cleanup(func() { l.Close() })
			busy[p] = true
		}
	}
	for range 200 {
		if p, _ := freePort(); busy[p] {
			t.Fatalf("picked %d, which is bound", p)
		}
	}
}
