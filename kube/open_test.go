package kube

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/client-go/tools/clientcmd"
)

func TestOpenNamesWhatItTried(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("KUBECONFIG", filepath.Join(dir, "missing.kubeconfig"))
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	_, err := Open(context.Background())
	if err == nil || !strings.Contains(err.Error(), "KUBECONFIG="+filepath.Join(dir, "missing.kubeconfig")) || !strings.Contains(err.Error(), "in-cluster") {
		t.Errorf("Open without a cluster = %v; want an error naming KUBECONFIG and the in-cluster configuration", err)
	}
	if _, err := os.Stat(clientcmd.RecommendedHomeFile); err == nil {
		return // this machine has a ~/.kube/config
	}
	t.Setenv("KUBECONFIG", "")
	_, err = Open(context.Background())
	if err == nil || !strings.Contains(err.Error(), clientcmd.RecommendedHomeFile) {
		t.Errorf("Open without KUBECONFIG = %v; want an error naming ~/.kube/config", err)
	}
}
