package readiness

import (
	"bufio"
	"bytes"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Listening returns the TCP ports on which the processes in the network
// namespace of process pid listen, read from /proc/PID/net/tcp and tcp6
// (pid on this machine: the engine's host when it is local). ok is false
// where that cannot be read: another OS, no permission, no such process.
// For a container's main process it sees the container itself, so
// docker-proxy's listener on the host never counts.
func Listening(pid int) (ports map[int]bool, ok bool) {
	if pid <= 0 {
		return nil, false
	}
	ports = map[int]bool{}
	for _, f := range []string{"tcp", "tcp6"} {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/net/" + f)
		if err != nil {
			if f == "tcp" {
				return nil, false
			}
			continue
		}
		parseListening(b, ports)
	}
	return ports, true
}

// parseListening adds the local ports of the LISTEN (state 0A) sockets of a
// /proc/net/tcp table to ports.
func parseListening(table []byte, ports map[int]bool) {
	sc := bufio.NewScanner(bytes.NewReader(table))
	sc.Scan() // header
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		// Docker's embedded DNS server listens on 127.0.0.11 in every
		// container of a user-defined network: not the container's own.
		if len(f) < 4 || f[3] != "0A" || strings.HasPrefix(f[1], "0B00007F:") {
			continue
		}
		i := strings.LastIndexByte(f[1], ':')
		if i < 0 {
			continue
		}
		if p, err := strconv.ParseUint(f[1][i+1:], 16, 16); err == nil {
			ports[int(p)] = true
		}
	}
}

func portList(ports map[int]bool) string {
	list := make([]int, 0, len(ports))
	for p := range ports {
		list = append(list, p)
	}
	sort.Ints(list)
	strs := make([]string, len(list))
	for i, p := range list {
		strs[i] = strconv.Itoa(p)
	}
	return strings.Join(strs, ", ")
}

// elsewhereSettle is how long a container may listen on other ports but not
// on the one its generic tcp probe waits for before the start fails: long
// enough for servers that open an admin or cluster port first, short
// enough that a wrong port in the compose file is reported in seconds.
// lookEvery is how often a Watch looks at the container.
const (
	elsewhereSettle = 10 * time.Second
	lookEvery       = 250 * time.Millisecond
)

// Watch tells a probe that waits in vain why: nothing listens in the
// container at all, or it listens only on other ports.
type Watch struct {
	port      int
	ports     func() (map[int]bool, bool)
	checked   time.Time
	elsewhere time.Time // since when the container listens only elsewhere
	note      string    // the last look's note, repeated between looks
}

// NewWatch watches for a listener on container port port; ports reads
// what the container listens on (see Listening), ok false where it
// cannot.
func NewWatch(port int, ports func() (ports map[int]bool, ok bool)) *Watch {
	return &Watch{port: port, ports: ports}
}

// Check returns, at now, a note for the probe's output and, once the
// container has listened only on other ports for elsewhereSettle, a fatal
// reason. The container is looked at every lookEvery at most; between
// looks the last note is returned again, so that every probe failure
// carries it (the probes that diagnostics quote are the last few, 20ms
// apart).
func (w *Watch) Check(now time.Time) (note string, fatal bool) {
	if !w.checked.IsZero() && now.Sub(w.checked) < lookEvery {
		return w.note, false
	}
	w.checked = now
	note, fatal = w.look(now)
	w.note = note
	return note, fatal
}

// look reads what the container listens on and judges it (see Check).
func (w *Watch) look(now time.Time) (note string, fatal bool) {
	ports, ok := w.ports()
	if !ok {
		return "", false
	}
	switch {
	case ports[w.port]:
		w.elsewhere = time.Time{}
		return "", false
	case len(ports) == 0:
		w.elsewhere = time.Time{}
		return "nothing listens in the container on any TCP port yet", false
	default:
		if w.elsewhere.IsZero() {
			w.elsewhere = now
		}
		note = "nothing listens on container port " + strconv.Itoa(w.port) + "; the container listens on " + portList(ports) + " only"
		return note, now.Sub(w.elsewhere) >= elsewhereSettle
	}
}
