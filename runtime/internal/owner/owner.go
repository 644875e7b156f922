// Package owner identifies the process that owns a stack's engine
// resources, and judges whether that process still runs.
//
// A pid alone is not an identity: pids are reused, a process in another PID
// namespace (a devcontainer or CI runner that shares the engine, a container
// started with --uts host) can have the same hostname and pid, and a
// machine that rebooted restarts its pid numbering. An ID therefore records
// the hostname, the boot id, the PID namespace, the pid and the process's
// start time. Judge says Dead only when it can prove it (same machine, same
// boot, a PID namespace it can see, and the process gone, a zombie, or
// another process under that pid); whatever it cannot see is Unknown, and
// the reaper gives such resources an age limit instead of removing them.
package owner

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Labels that carry an ID on engine resources.
const (
	LabelHost    = "io.composegen.owner.host"
	LabelBoot    = "io.composegen.owner.boot"
	LabelPidNS   = "io.composegen.owner.pidns"
	LabelPid     = "io.composegen.owner.pid"
	LabelStart   = "io.composegen.owner.start"
	LabelCreated = "io.composegen.created"
)

// ID identifies a process.
type ID struct {
	Host  string // hostname
	Boot  string // the kernel's boot id
	PidNS string // the inode of the PID namespace ("4026531836")
	Pid   int    // pid in that namespace
	Start string // start time in clock ticks after boot
}

// Proc reads the process information of one machine; Root is normally
// "/proc" (tests use a directory of their own).
type Proc struct {
	Root     string
	Hostname func() (string, error)
}

// System is this machine's /proc.
var System = Proc{Root: "/proc", Hostname: os.Hostname}

var (
	selfOnce sync.Once
	self     ID
)

// Self returns this process's ID (computed once).
func Self() ID {
	selfOnce.Do(func() { self = System.Self() })
	return self
}

// Self returns the ID of the process whose /proc/self this is.
func (p Proc) Self() ID {
	id := ID{Pid: os.Getpid()}
	if p.Hostname != nil {
		id.Host, _ = p.Hostname()
	}
	if b, err := os.ReadFile(filepath.Join(p.Root, "sys/kernel/random/boot_id")); err == nil {
		id.Boot = strings.TrimSpace(string(b))
	}
	id.PidNS = p.pidNS("self")
	if pid, ok := p.selfPid(); ok {
		id.Pid = pid
	}
	id.Start, _ = p.start(strconv.Itoa(id.Pid))
	return id
}

// selfPid reads the pid /proc/self links to, which is this process's pid in
// the namespace of that /proc.
func (p Proc) selfPid() (int, bool) {
	l, err := os.Readlink(filepath.Join(p.Root, "self"))
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(filepath.Base(l))
	return pid, err == nil
}

// pidNS returns the PID namespace inode of a /proc entry, "" if unknown.
func (p Proc) pidNS(entry string) string {
	l, err := os.Readlink(filepath.Join(p.Root, entry, "ns/pid"))
	if err != nil {
		return ""
	}
	// "pid:[4026531836]"
	l = strings.TrimPrefix(l, "pid:[")
	return strings.TrimSuffix(l, "]")
}

// stat returns the fields of /proc/PID/stat after the command, "" when the
// process does not exist.
func (p Proc) stat(pid string) ([]string, bool) {
	b, err := os.ReadFile(filepath.Join(p.Root, pid, "stat"))
	if err != nil {
		return nil, false
	}
	s := string(b)
	// The command may contain spaces and parentheses: fields start after
	// the last ')'.
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return nil, false
	}
	return strings.Fields(s[i+1:]), true
}

// start returns the process's start time (field 22) and whether it is a
// zombie or dead (field 3).
func (p Proc) start(pid string) (start string, zombie bool) {
	f, ok := p.stat(pid)
	if !ok || len(f) < 20 {
		return "", false
	}
	return f[19], f[0] == "Z" || f[0] == "X" || f[0] == "x"
}

// Labels returns the labels that record id, plus the creation time.
func (id ID) Labels(created time.Time) map[string]string {
	return map[string]string{
		LabelHost:    id.Host,
		LabelBoot:    id.Boot,
		LabelPidNS:   id.PidNS,
		LabelPid:     strconv.Itoa(id.Pid),
		LabelStart:   id.Start,
		LabelCreated: strconv.FormatInt(created.Unix(), 10),
	}
}

// FromLabels reads an ID and the creation time from resource labels; ok is
// false when they carry no owner.
func FromLabels(l map[string]string) (id ID, created time.Time, ok bool) {
	pid, err := strconv.Atoi(l[LabelPid])
	if err != nil || pid <= 0 {
		return ID{}, time.Time{}, false
	}
	id = ID{Host: l[LabelHost], Boot: l[LabelBoot], PidNS: l[LabelPidNS], Pid: pid, Start: l[LabelStart]}
	if sec, err := strconv.ParseInt(l[LabelCreated], 10, 64); err == nil {
		created = time.Unix(sec, 0)
	}
	return id, created, true
}

// Verdict is what Judge knows of an owner.
type Verdict int

const (
	// Unknown: the owner runs where this process cannot look (another
	// machine, boot or PID namespace).
	Unknown Verdict = iota
	// Alive: the owner runs.
	Alive
	// Dead: the owner provably no longer runs.
	Dead
)

func (v Verdict) String() string {
	switch v {
	case Alive:
		return "alive"
	case Dead:
		return "dead"
	}
	return "unknown"
}

// Judge says whether the process id runs, seen from this machine's /proc.
func Judge(id ID) Verdict { return System.Judge(Self(), id) }

// Judge says whether process id runs, as seen by process me through p.
func (p Proc) Judge(me, id ID) Verdict {
	if id.Pid <= 0 || id.Host != me.Host || id.Boot == "" || id.Boot != me.Boot || id.PidNS == "" {
		return Unknown
	}
	if id.PidNS == me.PidNS {
		return p.judgePid(strconv.Itoa(id.Pid), id.Start)
	}
	// Another PID namespace: visible only from an ancestor namespace,
	// where its processes have other pids. Find one of them; NSpid in
	// /proc/X/status lists the pid in each namespace, innermost last.
	if pid, ok := p.findInNamespace(id.PidNS, id.Pid); ok {
		return p.judgePid(pid, id.Start)
	}
	return Unknown
}

// judgePid judges a pid of this /proc.
func (p Proc) judgePid(pid, start string) Verdict {
	cur, zombie := p.start(pid)
	switch {
	case cur == "":
		return Dead
	case zombie:
		return Dead // killed, not yet waited for
	case start != "" && cur != start:
		return Dead // the pid was reused
	}
	return Alive
}

// findInNamespace returns the pid, in this /proc, of the process whose pid in
// namespace ns is nsPid.
func (p Proc) findInNamespace(ns string, nsPid int) (string, bool) {
	entries, err := os.ReadDir(p.Root)
	if err != nil {
		return "", false
	}
	want := strconv.Itoa(nsPid)
	for _, e := range entries {
		name := e.Name()
		if name == "" || name[0] < '0' || name[0] > '9' || p.pidNS(name) != ns {
			continue
		}
		b, err := os.ReadFile(filepath.Join(p.Root, name, "status"))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if f, ok := strings.CutPrefix(line, "NSpid:"); ok {
				ids := strings.Fields(f)
				if len(ids) > 0 && ids[len(ids)-1] == want {
					return name, true
				}
			}
		}
	}
	return "", false
}

// Process returns the ID of process pid of this machine, in this process's
// PID namespace; ok is false when no such process runs (or it is a zombie).
func Process(pid int) (ID, bool) { return System.Process(Self(), pid) }

// Process returns the ID of process pid as seen by process me through p.
func (p Proc) Process(me ID, pid int) (ID, bool) {
	start, zombie := p.start(strconv.Itoa(pid))
	if start == "" || zombie {
		return ID{}, false
	}
	id := me
	id.Pid, id.Start = pid, start
	return id, true
}

// Command returns the name of process pid's executable (the base name of
// /proc/PID/exe, else /proc/PID/comm), "" when it cannot be read.
func Command(pid int) string { return System.Command(pid) }

// Command returns the name of process pid's executable.
func (p Proc) Command(pid int) string {
	dir := filepath.Join(p.Root, strconv.Itoa(pid))
	if l, err := os.Readlink(filepath.Join(dir, "exe")); err == nil {
		return filepath.Base(strings.TrimSuffix(l, " (deleted)"))
	}
	if b, err := os.ReadFile(filepath.Join(dir, "comm")); err == nil {
		return strings.TrimSpace(string(b))
	}
	return ""
}

// String returns a short form of id for file contents and messages
// ("pid 123 on host"), never used as an identity.
func (id ID) String() string { return "pid " + strconv.Itoa(id.Pid) + " on " + id.Host }
