package diag

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"testing"
)

// child starts a process that writes its standard error to stderr.
func child(t *testing.T, stderr *os.File) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("sleep", "30")
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd
}

// pipedChild starts a process whose standard error is a pipe, and returns
// the pipe's end to read; it skips the test without /proc.
func pipedChild(t *testing.T) (*os.File, *exec.Cmd) {
	t.Helper()
	if _, err := os.Stat("/proc/self/fd/2"); err != nil {
		t.Skip("no /proc")
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pr.Close() })
	cmd := child(t, pw)
	pw.Close()
	return pr, cmd
}

// A notice reaches the go command's standard error when it is a pipe or a
// terminal, never a regular file, nor the process's own standard error.
func TestOpenStderrOf(t *testing.T) {
	pr, piped := pipedChild(t)
	f := openStderrOf(piped.Process.Pid)
	if f == nil {
		t.Fatal("the standard error of a process that writes to a pipe was not opened")
	}
	if _, err := io.WriteString(f, "composegen: notice\n"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	_ = piped.Process.Kill()
	_ = piped.Wait()
	if b, _ := io.ReadAll(pr); string(b) != "composegen: notice\n" {
		t.Errorf("the pipe got %q", b)
	}

	file, err := os.Create(t.TempDir() + "/log")
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	if f := openStderrOf(child(t, file).Process.Pid); f != nil {
		f.Close()
		t.Error("the standard error of a process that writes to a regular file was opened")
	}
	if f := openStderrOf(child(t, os.Stderr).Process.Pid); f != nil {
		f.Close()
		t.Error("a process's standard error that is this process's was opened")
	}
}

var runs int

// TestNotice: a notice is one line; it goes to logf when there is one, else
// once per process to the go command's standard error.
func TestNotice(t *testing.T) {
	var got []string
	logf := func(format string, args ...any) { got = append(got, format+"|"+args[0].(string)) }
	Notice("composegen: kept\n\tshared  stack", logf, 0)
	Notice("composegen: kept\n\tshared  stack", logf, 0)
	if len(got) != 2 || got[0] != "%s|composegen: kept shared stack" {
		t.Errorf("logf got %q, want the one-line notice twice (logf does not deduplicate)", got)
	}

	pr, cmd := pipedChild(t)
	runs++ // a notice is printed once per process, whatever -count
	msg := fmt.Sprintf("composegen: notice %d of %s", runs, t.Name())
	Notice(msg, nil, cmd.Process.Pid)
	Notice(msg+"\n", nil, cmd.Process.Pid) // the same notice
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if b, _ := io.ReadAll(pr); string(b) != msg+"\n" {
		t.Errorf("the go command's standard error got %q, want %q once", b, msg+"\n")
	}
}
