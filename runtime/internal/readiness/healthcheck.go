package readiness

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/composegen/composegen/runtime/composeplan"
	"github.com/composegen/composegen/runtime/internal/mask"
)

// Defaults of a compose healthcheck, as Docker applies them.
const (
	defaultInterval = 30 * time.Second
	defaultTimeout  = 30 * time.Second
	defaultRetries  = 3
)

// Enabled reports whether the compose healthcheck hc is to be run: there
// is one, it is not disabled, and its test is not NONE.
func Enabled(hc *composeplan.HealthcheckSpec) bool {
	return hc != nil && !hc.Disable && len(hc.Test) > 0 && hc.Test[0] != "NONE"
}

// Timeout bounds one run of hc: its timeout, or Docker's default.
func Timeout(hc *composeplan.HealthcheckSpec) time.Duration {
	if hc.Timeout > 0 {
		return hc.Timeout
	}
	return defaultTimeout
}

// Command returns the command that runs an enabled healthcheck's test, as
// compose reads it: ["CMD", args...] runs args; ["CMD-SHELL", s...] and a
// test without a keyword run the words joined by spaces with /bin/sh -c.
// expand interpolates one word; field names it for its errors
// ("healthcheck.test", or "healthcheck.test[i]" for the i-th argument of a
// CMD).
func Command(test []string, expand func(field, s string) (string, error)) ([]string, error) {
	if len(test) == 0 {
		return nil, errors.New("no test")
	}
	const field = "healthcheck.test"
	shell := strings.Join(test, " ")
	switch test[0] {
	case "CMD":
		if len(test) < 2 {
			return nil, errors.New("CMD without a command")
		}
		cmd := make([]string, len(test)-1)
		for i, s := range test[1:] {
			v, err := expand(fmt.Sprintf("%s[%d]", field, i), s)
			if err != nil {
				return nil, err
			}
			cmd[i] = v
		}
		return cmd, nil
	case "CMD-SHELL":
		shell = strings.Join(test[1:], " ")
	}
	c, err := expand(field, shell)
	if err != nil {
		return nil, err
	}
	return []string{"/bin/sh", "-c", c}, nil
}

// Display shows a healthcheck test as written (templates, not values)
// for messages: without its keyword, password arguments masked, at most
// 80 bytes.
func Display(test []string) string {
	if len(test) > 1 && (test[0] == "CMD" || test[0] == "CMD-SHELL") {
		test = test[1:]
	}
	s := strings.Join(mask.Args(test), " ")
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return s
}
