package runtime

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/composegen/composegen/runtime/composeplan"
)

// A container of an unknown image that listens, but not on the port the
// compose file declares, fails the start with both ports named, long before
// the start's timeout.
func TestPortElsewhereFailsWithTheListeningPorts(t *testing.T) {
	requireDocker(t)
	t.Parallel()
	plan := &composeplan.Plan{Name: "rt-elsewhere", Services: []composeplan.ServiceSpec{
		{Name: "api", Image: "busybox", Command: []string{"nc", "-ll", "-p", "8081", "-e", "echo", "hi"},
			Ports: []composeplan.PortSpec{{Target: 8080, Protocol: "tcp"}},
			Probe: &composeplan.ProbeSpec{Protocol: "tcp", Port: 8080}},
	}}
	_, err := Up(context.Background(), plan, WithTimeout(2*time.Minute))
	if err == nil {
		t.Fatal("Up succeeded")
	}
	for _, want := range []string{`service "api"`, "nothing listens on container port 8080", "listens on 8081 only", "fix its ports"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "deadline") {
		t.Errorf("failed by the timeout, not by the listening check: %v", err)
	}
}
