package harness

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	docker "github.com/ory/dockertest/v3/docker"

	"github.com/composegen/composegen/bench/internal/countengine"
)

func dockerRemove(ctx context.Context, id string) docker.RemoveContainerOptions {
	return docker.RemoveContainerOptions{ID: id, Force: true, RemoveVolumes: true, Context: ctx}
}

// Result is one run of one tool on one stack.
type Result struct {
	Up, Verify, Down        time.Duration
	UpErr, VerifyErr        error
	DownErr                 error
	Load                    float64 // 1-minute load average when the run began
	Calls                   countengine.Counts
	CPU                     CPU // during Up
	Timeline                string
	UpStarted, UpEnded      time.Time
	VerifyStarted, Verified time.Time
}

// Failed reports whether the run does not count: Up failed, or a service
// did not answer at once after Up returned (false readiness).
func (r Result) Failed() bool { return r.UpErr != nil || r.VerifyErr != nil }

// Cause says why a run failed.
func (r Result) Cause() string {
	switch {
	case r.UpErr != nil:
		return "up failed: " + r.UpErr.Error()
	case r.VerifyErr != nil:
		return "FALSE READINESS (up returned, then a service did not answer): " + r.VerifyErr.Error()
	}
	return ""
}

// Measure brings st up with tool under project (bounded by timeout), uses
// every service at once with its real client, and takes the stack down.
func Measure(ctx context.Context, tool Tool, st *Stack, project string, timeout time.Duration) Result {
	var r Result
	r.Load = Loadavg()
	upCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c0, cpu0 := countengine.Snapshot(), ReadCPU()
	countengine.ResetMax()
	r.UpStarted = time.Now()
	run, err := tool.Up(upCtx, st, project)
	r.UpEnded = time.Now()
	r.Up = r.UpEnded.Sub(r.UpStarted)
	r.CPU = ReadCPU().Sub(cpu0)
	r.Calls = countengine.Snapshot().Sub(c0)
	r.UpErr = err
	if err == nil {
		r.VerifyStarted = time.Now()
		targets := run.Targets
		if targets == nil {
			targets, err = PublishedTargets(upCtx, project, st.Checks)
		}
		if err == nil {
			err = Verify(upCtx, st.Checks, targets)
		}
		r.Verified = time.Now()
		r.Verify = r.Verified.Sub(r.VerifyStarted)
		r.VerifyErr = err
	}
	if run != nil && run.Timeline != nil {
		r.Timeline = run.Timeline()
	}
	if run != nil && run.Down != nil {
		dctx, dcancel := context.WithTimeout(ctx, 2*time.Minute)
		t := time.Now()
		r.DownErr = run.Down(dctx)
		r.Down = time.Since(t)
		dcancel()
	}
	return r
}

// Loadavg returns the 1-minute load average (0 when unknown).
func Loadavg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f, _ := strconv.ParseFloat(strings.Fields(string(b))[0], 64)
	return f
}

// Uptime is the output of uptime(1)'s load part, for reports.
func Uptime() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "load unknown"
	}
	f := strings.Fields(string(b))
	return fmt.Sprintf("load average %s, %s, %s", f[0], f[1], f[2])
}

// CPU is CPU time spent: by this process and its children (the compose
// CLI), by dockerd and containerd, and by the whole machine (busy, and the
// wall time over which it was measured, for a utilisation).
type CPU struct {
	Self, Engine, Busy, Wall time.Duration
}

func (c CPU) Sub(b CPU) CPU {
	return CPU{Self: c.Self - b.Self, Engine: c.Engine - b.Engine, Busy: c.Busy - b.Busy, Wall: c.Wall - b.Wall}
}

func (c CPU) String() string {
	util := 0.0
	if c.Wall > 0 {
		util = c.Busy.Seconds() / c.Wall.Seconds()
	}
	return fmt.Sprintf("cpu: bench process %.2fs, dockerd+containerd %.2fs, machine busy %.2fs of %.1fs×%d cores (%.0f%%)",
		c.Self.Seconds(), c.Engine.Seconds(), c.Busy.Seconds(), c.Wall.Seconds(), numCPU, 100*util/float64(numCPU))
}

var (
	numCPU    = cpuCount()
	enginePID = findPIDs("dockerd", "containerd")
	start     = time.Now()
)

// ReadCPU reads the CPU counters now.
func ReadCPU() CPU {
	var c CPU
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		c.Self += tv(ru.Utime) + tv(ru.Stime)
	}
	if syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru) == nil {
		c.Self += tv(ru.Utime) + tv(ru.Stime)
	}
	for _, pid := range enginePID {
		c.Engine += procCPU(pid)
	}
	c.Busy = machineBusy()
	c.Wall = time.Since(start)
	return c
}

func tv(t syscall.Timeval) time.Duration {
	return time.Duration(t.Sec)*time.Second + time.Duration(t.Usec)*time.Microsecond
}

// clock ticks per second of /proc (USER_HZ is 100 on Linux).
const hz = 100

func procCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+st) * time.Second / hz
}

func machineBusy() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line := strings.SplitN(string(b), "\n", 2)[0]
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return 0
	}
	var busy int64
	for i, v := range f[1:] {
		n, _ := strconv.ParseInt(v, 10, 64)
		if i == 3 || i == 4 { // idle, iowait
			continue
		}
		if i >= 7 { // steal, guest...: not ours to count
			break
		}
		busy += n
	}
	return time.Duration(busy) * time.Second / hz
}

func cpuCount() int {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 1
	}
	n := 0
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "cpu") && len(l) > 3 && l[3] >= '0' && l[3] <= '9' {
			n++
		}
	}
	if n == 0 {
		return 1
	}
	return n
}

// NumCPU is the number of CPUs the machine has.
func NumCPU() int { return numCPU }

// findPIDs returns the pids of the processes whose command name is one of
// names (the engine's daemons, when this process can see them).
func findPIDs(names ...string) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/comm")
		if err != nil {
			continue
		}
		if !want[strings.TrimSpace(string(b))] {
			continue
		}
		// Docker's own containerd, not another one (a kind cluster's).
		cmd, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if strings.TrimSpace(string(b)) == "containerd" && !strings.Contains(string(cmd), "docker") {
			continue
		}
		out = append(out, pid)
	}
	return out
}

// Settle waits until the machine is quiet: busy under 10% of its CPUs over
// a 2 s window (the previous run's teardown and the engine's clean-up
// done), at most max. It returns how long it waited and whether the
// machine became quiet, so that every run starts from the same state
// whatever ran before it.
func Settle(max time.Duration) (time.Duration, bool) {
	const window = 2 * time.Second
	start := time.Now()
	for time.Since(start) < max {
		a := ReadCPU()
		time.Sleep(window)
		d := ReadCPU().Sub(a)
		if d.Wall > 0 && d.Busy.Seconds()/d.Wall.Seconds() < 0.1*float64(numCPU) {
			return time.Since(start), true
		}
	}
	return time.Since(start), false
}
