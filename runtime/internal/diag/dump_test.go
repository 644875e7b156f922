package diag

import "testing"

// TestDump: the replicas in trouble come first, each group in the order
// given; the probes of a ready replica are left out, those of one that is
// not ready are shown before its logs.
func TestDump(t *testing.T) {
	entries := []Entry{
		{Label: "db", Head: Headline{Text: "running, ready", Logs: true, ready: true}, Probes: []string{"refused"}, Logs: "; no log output"},
		{Label: "broker", Head: Headline{Text: "running, not ready", Trouble: true, Logs: true}, Probes: []string{"refused", "EOF"}, Logs: "; last logs:\n\tstarting"},
		{Label: "app", Head: Headline{Text: "not created (waiting for its dependencies)"}},
		{Label: "migrate", Head: Headline{Text: "exited (exit code 3)", Trouble: true, Logs: true}, Logs: "; last logs:\n\tfailed"},
	}
	want := `service "broker": running, not ready; last probes:
	refused
	EOF; last logs:
	starting
service "migrate": exited (exit code 3); last logs:
	failed
service "db": running, ready; no log output
service "app": not created (waiting for its dependencies)`
	if got := Dump(entries); got != want {
		t.Errorf("Dump:\n%s\nwant:\n%s", got, want)
	}
	if got, want := Describe(entries[0]), "service \"db\": running, ready; last probes:\n\trefused; no log output"; got != want {
		t.Errorf("Describe = %q, want %q (it shows every probe)", got, want)
	}
	if got, want := Others(entries[2:]), "\nother services:\n\tapp: not created (waiting for its dependencies)\n\tmigrate: exited (exit code 3)"; got != want {
		t.Errorf("Others = %q, want %q", got, want)
	}
	if got := Others(nil); got != "" {
		t.Errorf("Others(nil) = %q, want \"\"", got)
	}
	if got := ProbeTail(nil); got != "" {
		t.Errorf("ProbeTail(nil) = %q, want \"\"", got)
	}
}
