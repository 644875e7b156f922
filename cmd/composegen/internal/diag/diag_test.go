package diag

import (
	"errors"
	"testing"
)

func TestString(t *testing.T) {
	for _, tc := range []struct {
		d    Diagnostic
		want string
	}{
		{Diagnostic{File: "compose.yaml", Line: 4, Column: 5, Service: "api", Field: "restart", Message: `invalid restart policy "x"`, Hint: "use no"},
			`compose.yaml:4:5: service "api": restart: invalid restart policy "x" (use no)`},
		{Diagnostic{File: "compose.yaml", Line: 4, Field: "networks.n.ipam", Message: "ignored"}, "compose.yaml:4: networks.n.ipam: ignored"},
		{Diagnostic{File: "compose.yaml", Message: "obsolete"}, "compose.yaml: obsolete"},
		{Diagnostic{Message: "no compose file"}, "no compose file"},
	} {
		if got := tc.d.String(); got != tc.want {
			t.Errorf("String() = %q, want %q", got, tc.want)
		}
	}
}

func TestListErr(t *testing.T) {
	l := List{{Severity: Warning, Message: "w"}, {Severity: Error, File: "b.yaml", Message: "e2"}, {Severity: Error, File: "a.yaml", Message: "e1"}}
	if err := l.Warnings().Err(); err != nil {
		t.Errorf("warnings only: %v", err)
	}
	l.Sort()
	err := l.Err()
	var errs Errors
	if !errors.As(err, &errs) || len(errs) != 2 || err.Error() != "a.yaml: e1\nb.yaml: e2" {
		t.Errorf("Err() = %v", err)
	}
}

func TestSuggest(t *testing.T) {
	fields := []string{"healthcheck", "image", "environment", "restart", "ports", "expose"}
	for word, want := range map[string]string{
		"healthchek":  "healthcheck",
		"imagee":      "image",
		"enviroment":  "environment",
		"prots":       "ports",
		"resart":      "restart",
		"volumes":     "",
		"x":           "",
		"healthcheck": "",
	} {
		if got := Suggest(word, fields); got != want {
			t.Errorf("Suggest(%q) = %q, want %q", word, got, want)
		}
	}
	if got := DidYouMean("unles-stopped", []string{"no", "always", "on-failure", "unless-stopped"}); got != `did you mean "unless-stopped"?` {
		t.Errorf("DidYouMean = %q", got)
	}
}

func TestCompact(t *testing.T) {
	a := Diagnostic{File: "a", Message: "x"}
	b := Diagnostic{File: "b", Message: "y"}
	if got := (List{a, b, a, b, a}).Compact(); len(got) != 2 || got[0] != a || got[1] != b {
		t.Errorf("Compact = %v", got)
	}
}

// String is the one line printed by default: Detail is left for -v.
func TestStringLeavesDetail(t *testing.T) {
	d := Diagnostic{Severity: Warning, File: "compose.yaml", Line: 4, Column: 5, Service: "web", Field: "networks.front",
		Message: "fixed IP addresses are not supported; ignored", Detail: "Every stack instance gets its own network."}
	if got, want := d.String(), `compose.yaml:4:5: service "web": networks.front: fixed IP addresses are not supported; ignored`; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	for sev, want := range map[Severity]string{Error: "error", Warning: "warning", Note: "note", Info: "info"} {
		if sev.String() != want {
			t.Errorf("%d.String() = %q, want %q", sev, sev.String(), want)
		}
	}
	if l := (List{{Severity: Info}, {Severity: Error}, {Severity: Note}}).Warnings(); len(l) != 2 {
		t.Errorf("Warnings() kept %d, want Info and Note", len(l))
	}
}
