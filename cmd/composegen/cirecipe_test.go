package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/composegen/composegen/cmd/composegen/internal/testcorpus"
)

// gitlabJob is the part of a GitLab CI job the recipe test runs.
type gitlabJob struct {
	Image    string `yaml:"image"`
	Services []struct {
		Name  string `yaml:"name"`
		Alias string `yaml:"alias"`
	} `yaml:"services"`
	Variables map[string]string `yaml:"variables"`
	Script    []string          `yaml:"script"`
}

// dindCertsEnv names the directory of the client certificate (ca.pem,
// cert.pem, key.pem) of a Docker engine served over TCP + mutual TLS on
// localhost:2376, the stand-in for GitLab's docker:dind service. .ci/run
// sets it after ../shared/dockerenv/tls.
const dindCertsEnv = "COMPOSEGEN_TEST_DIND_CERTS"

// TestGitLabRecipe runs the job of docs/ci/gitlab-ci.yml, with its
// variables as written, from a fresh module like the Quickstart's, against
// a TLS engine standing in for docker:dind: the host "docker" becomes
// "localhost" (the address the engine's certificate names) and /certs the
// directory of $COMPOSEGEN_TEST_DIND_CERTS. So the documented variables are
// the ones that work, and a generated DSN dials the engine's host (the
// dind host on GitLab), not the job's container.
func TestGitLabRecipe(t *testing.T) {
	certs := os.Getenv(dindCertsEnv)
	if certs == "" {
		t.Skipf("set %s to the client certificates of a TLS engine on localhost:2376 (.ci/run does, after ../shared/dockerenv/tls)", dindCertsEnv)
	}
	root := testcorpus.RepoRoot(t)
	var jobs map[string]gitlabJob
	if err := yaml.Unmarshal([]byte(readFile(t, filepath.Join(root, "docs", "ci", "gitlab-ci.yml"))), &jobs); err != nil {
		t.Fatalf("docs/ci/gitlab-ci.yml: %v", err)
	}
	job, ok := jobs["test"]
	if !ok {
		t.Fatal(`docs/ci/gitlab-ci.yml: no job "test"`)
	}
	if len(job.Services) != 1 || !strings.Contains(job.Services[0].Name, "dind") || job.Services[0].Alias != "docker" {
		t.Fatalf("the job's services: %+v, want one docker:dind service aliased docker", job.Services)
	}
	if job.Variables["DOCKER_HOST"] != "tcp://docker:2376" {
		t.Fatalf("DOCKER_HOST = %q, want tcp://docker:2376", job.Variables["DOCKER_HOST"])
	}

	// dind writes its client certificate to $DOCKER_TLS_CERTDIR/client.
	certDir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(certDir, "client"), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"ca.pem", "cert.pem", "key.pem"} {
		data, err := os.ReadFile(filepath.Join(certs, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(certDir, "client", name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// The job's environment: GitLab's CI=true (a test that finds no
	// engine fails instead of skipping), then the variables as written, on
	// this machine. Nothing of the test's own engine selection leaks in.
	env := []string{"CI=true", "COMPOSEGEN_ENGINE=", "DOCKER_CONTEXT="}
	for name, value := range job.Variables {
		value = strings.ReplaceAll(value, "tcp://docker:", "tcp://localhost:")
		if rest, ok := strings.CutPrefix(value, "/certs"); ok {
			value = certDir + rest
		}
		env = append(env, name+"="+value)
	}

	dir, gocmd := quickstartModule(t, "//go:generate go tool composegen -f ../compose.yaml",
		"\nreplace github.com/composegen/composegen => "+root+"\n", env...)
	// A test that reaches the database where the job's tests would: on
	// the dind host.
	stackTest := `package itest

import (
	"net"
	"net/url"
	"testing"
)

func TestOnTheDindHost(t *testing.T) {
	stack := Start(t)
	u, err := url.Parse(stack.DB.DSN())
	if err != nil {
		t.Fatal(err)
	}
	// Ports are dialled on DOCKER_HOST's host: "docker" on GitLab; here
	// "localhost", a loopback name, which composegen dials as 127.0.0.1.
	if u.Hostname() != "127.0.0.1" {
		t.Fatalf("DSN host %q, want the engine's host (docker on GitLab, 127.0.0.1 for localhost here)", u.Hostname())
	}
	c, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
}
`
	if err := os.WriteFile(filepath.Join(dir, "itest", "stack_test.go"), []byte(stackTest), 0o644); err != nil {
		t.Fatal(err)
	}
	gocmd("get", "-tool", "github.com/composegen/composegen/cmd/composegen")
	gocmd("mod", "tidy")
	gocmd("generate", "./...")
	gocmd("mod", "tidy")
	for _, line := range job.Script {
		args := strings.Fields(line)
		if len(args) == 0 || args[0] != "go" {
			t.Fatalf("script line %q: the test runs go commands only", line)
		}
		out := gocmd(args[1:]...)
		t.Logf("%s\n%s", line, out)
	}
}
