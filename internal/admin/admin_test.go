package admin_test

import (
	"context"
	"strings"
	"testing"

	"github.com/composegen/composegen/internal/admin"
)

// Package runtime implements admin, which links it: Doctor reports an engine
// this binary does not link as a problem, with what to do, and Prune says
// which engine it could not open.
func TestImplementedByRuntime(t *testing.T) {
	ctx := context.Background()
	findings := admin.Doctor(ctx, admin.DoctorOptions{Engine: "nonesuch"})
	if len(findings) == 0 || findings[0].Level != "problem" || !strings.Contains(findings[0].Detail, "COMPOSEGEN_ENGINE") {
		t.Fatalf("Doctor with engine nonesuch: %+v", findings)
	}
	if _, err := admin.Prune(ctx, admin.PruneOptions{Engine: "nonesuch"}); err == nil || !strings.Contains(err.Error(), "nonesuch") {
		t.Fatalf("Prune with engine nonesuch: %v", err)
	}
}
