package readiness

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/composegen/composegen/runtime/composeplan"
)

func TestEnabled(t *testing.T) {
	for _, tt := range []struct {
		name string
		hc   *composeplan.HealthcheckSpec
		want bool
	}{
		{"none", nil, false},
		{"CMD", &composeplan.HealthcheckSpec{Test: []string{"CMD", "true"}}, true},
		{"CMD-SHELL", &composeplan.HealthcheckSpec{Test: []string{"CMD-SHELL", "true"}}, true},
		{"disabled", &composeplan.HealthcheckSpec{Test: []string{"CMD", "true"}, Disable: true}, false},
		{"NONE", &composeplan.HealthcheckSpec{Test: []string{"NONE"}}, false},
		{"no test", &composeplan.HealthcheckSpec{Interval: time.Second}, false},
	} {
		if got := Enabled(tt.hc); got != tt.want {
			t.Errorf("%s: Enabled = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestTimeout(t *testing.T) {
	if got := Timeout(&composeplan.HealthcheckSpec{}); got != defaultTimeout {
		t.Errorf("Timeout of an unset timeout = %s, want Docker's %s", got, defaultTimeout)
	}
	if got := Timeout(&composeplan.HealthcheckSpec{Timeout: 3 * time.Second}); got != 3*time.Second {
		t.Errorf("Timeout = %s, want 3s", got)
	}
}

// upper stands for the interpolation: it records the fields it was asked
// for and upper-cases the words.
type upper struct{ fields []string }

func (u *upper) expand(field, s string) (string, error) {
	u.fields = append(u.fields, field)
	if strings.Contains(s, "${") {
		return "", errors.New(field + ": bad")
	}
	return strings.ToUpper(s), nil
}

func TestCommand(t *testing.T) {
	for _, tt := range []struct {
		test       []string
		want       []string
		wantFields []string
	}{
		{[]string{"CMD", "pg_isready", "-U", "app"}, []string{"PG_ISREADY", "-U", "APP"},
			[]string{"healthcheck.test[0]", "healthcheck.test[1]", "healthcheck.test[2]"}},
		{[]string{"CMD-SHELL", "redis-cli ping", "|| exit 1"}, []string{"/bin/sh", "-c", "REDIS-CLI PING || EXIT 1"},
			[]string{"healthcheck.test"}},
		// Without a keyword, the words are a shell command.
		{[]string{"curl", "-f", "http://localhost"}, []string{"/bin/sh", "-c", "CURL -F HTTP://LOCALHOST"},
			[]string{"healthcheck.test"}},
	} {
		u := &upper{}
		got, err := Command(tt.test, u.expand)
		if err != nil {
			t.Errorf("Command(%q): %v", tt.test, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) || !reflect.DeepEqual(u.fields, tt.wantFields) {
			t.Errorf("Command(%q) = %q expanding %q; want %q expanding %q", tt.test, got, u.fields, tt.want, tt.wantFields)
		}
	}
}

func TestCommandErrors(t *testing.T) {
	u := &upper{}
	if _, err := Command([]string{"CMD"}, u.expand); err == nil || !strings.Contains(err.Error(), "CMD without a command") {
		t.Errorf("CMD alone: err = %v", err)
	}
	if _, err := Command(nil, u.expand); err == nil {
		t.Error("no test: no error")
	}
	_, err := Command([]string{"CMD", "check", "${BAD"}, u.expand)
	if err == nil || !strings.Contains(err.Error(), "healthcheck.test[1]") {
		t.Errorf("interpolation error = %v, want it to name healthcheck.test[1]", err)
	}
}

func TestDisplay(t *testing.T) {
	got := Display([]string{"CMD", "redis-cli", "-a", "Sekret-123", "ping"})
	if strings.Contains(got, "Sekret-123") || !strings.HasPrefix(got, "redis-cli -a ") || !strings.HasSuffix(got, " ping") {
		t.Errorf("Display = %q, want the command without its keyword, its password masked", got)
	}
	if got := Display([]string{"CMD-SHELL", "mysqladmin ping -uroot -pLiteral-9876"}); strings.Contains(got, "Literal-9876") {
		t.Errorf("Display shows the password of a shell command: %q", got)
	}
	long := Display([]string{"CMD-SHELL", strings.Repeat("x", 200)})
	if len(long) != 80 || !strings.HasSuffix(long, "...") {
		t.Errorf("Display of a 200-byte test = %d bytes %q, want 80 ending in ...", len(long), long)
	}
	// A bare test keeps its first word.
	if got := Display([]string{"true"}); got != "true" {
		t.Errorf("Display([true]) = %q", got)
	}
}
