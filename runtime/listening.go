package runtime

import (
	"bufio"
	"bytes"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// listening returns the TCP ports on which the container's processes
// listen, read from the network namespace of its main process
// (/proc/PID/net/tcp and tcp6 on the engine's host). ok is false where that
// cannot be read: a remote engine, another OS, no permission. It sees the
// container itself, so docker-proxy's listener on the host never counts.
func (s *replica) listening() (ports map[int]bool, ok bool) {
	if !s.stack.info.Local {
		return nil, false
	}
	s.mu.Lock()
	pid := s.pid
	s.mu.Unlock()
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
var elsewhereSettle = 10 * time.Second

// listenWatch tells a generic tcp probe that waits in vain why: nothing
// listens in the container at all, or it listens only on other ports.
type listenWatch struct {
	s         *replica
	port      int
	checked   time.Time
	elsewhere time.Time // since when the container listens only elsewhere
	note      string    // the last check's note, repeated between checks
}

// check returns a note for the probe output and, once the container has
// listened only on other ports for elsewhereSettle, a fatal reason. The
// container is looked at every 250ms at most; between looks the last note
// is returned again, so that every probe failure carries it (the probes
// that diagnostics quote are the last few, 20ms apart).
func (w *listenWatch) check() (note string, fatal bool) {
	if time.Since(w.checked) < 250*time.Millisecond {
		return w.note, false
	}
	w.checked = time.Now()
	note, fatal = w.look()
	w.note = note
	return note, fatal
}

// look reads what the container listens on and judges it (see check).
func (w *listenWatch) look() (note string, fatal bool) {
	ports, ok := w.s.listening()
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
			w.elsewhere = time.Now()
		}
		note = "nothing listens on container port " + strconv.Itoa(w.port) + "; the container listens on " + portList(ports) + " only"
		return note, time.Since(w.elsewhere) >= elsewhereSettle
	}
}
