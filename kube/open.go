package kube

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"

	"github.com/composegen/composegen/runtime/engine"
)

// Name is the engine's name for engine.Register, COMPOSEGEN_ENGINE and
// runtime.WithEngine.
const Name = "kubernetes"

func init() {
	// client-go logs what it cannot return (a stream closed under a
	// cancelled exec) through klog to stderr; the engine reports its errors
	// itself, so that a test's output holds only the runtime's messages.
	klog.SetLogger(logr.Discard())
	engine.Register(Name, func(ctx context.Context) (engine.Engine, error) { return Open(ctx) })
}

// Engine is a connected Kubernetes cluster. It implements engine.Engine;
// its methods are safe for concurrent use.
type Engine struct {
	cfg  *rest.Config
	cs   kubernetes.Interface
	info engine.Info

	mu       sync.Mutex
	forwards map[string]*forward  // port-forwards by container id
	logs     map[string]*ringBuf  // output of earlier runs by container id
	stopped  map[string]lastState // states of containers being stopped, by id
	closed   bool
}

// Open connects to the cluster the way kubectl does: the files of
// KUBECONFIG (or ~/.kube/config) and their current context, else the
// in-cluster configuration of a pod. Its error names what it tried.
func Open(ctx context.Context) (*Engine, error) {
	cfg, from, err := loadConfig()
	if err != nil {
		return nil, err
	}
	return openConfig(ctx, cfg, from)
}

// OpenConfig connects to the cluster of cfg; from says where cfg came from
// (for messages).
func OpenConfig(ctx context.Context, cfg *rest.Config, from string) (*Engine, error) {
	return openConfig(ctx, rest.CopyConfig(cfg), from)
}

func openConfig(ctx context.Context, cfg *rest.Config, from string) (*Engine, error) {
	// A stack comes up with many concurrent requests and watches; the
	// client's default of 5 requests per second would serialise them.
	cfg.QPS, cfg.Burst = 200, 400
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes (%s): %w", from, err)
	}
	version, err := serverVersion(ctx, cs)
	if err != nil {
		return nil, fmt.Errorf("kubernetes API server %s (%s) does not answer: %w", cfg.Host, from, err)
	}
	return &Engine{
		cfg: cfg, cs: cs,
		info: engine.Info{
			Name: Name, Endpoint: cfg.Host, From: from, Version: version, API: "v1",
			DialHost: "127.0.0.1", PublishIP: "127.0.0.1", NoBuild: true,
		},
		forwards: map[string]*forward{},
		logs:     map[string]*ringBuf{},
		stopped:  map[string]lastState{},
	}, nil
}

// loadConfig finds the cluster like kubectl and says where it found it.
func loadConfig() (*rest.Config, string, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	files := rules.GetLoadingPrecedence()
	var tried []string
	if env := os.Getenv(clientcmd.RecommendedConfigPathEnvVar); env != "" {
		tried = append(tried, "KUBECONFIG="+env)
	} else {
		tried = append(tried, clientcmd.RecommendedHomeFile)
	}
	if anyExists(files) {
		cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{})
		raw, err := cc.RawConfig()
		if err != nil {
			return nil, "", fmt.Errorf("kubernetes: reading %s: %w", strings.Join(files, ":"), err)
		}
		cfg, err := cc.ClientConfig()
		if err != nil {
			return nil, "", fmt.Errorf("kubernetes: %s, context %q: %w", tried[0], raw.CurrentContext, err)
		}
		return cfg, fmt.Sprintf("%s, context %q", tried[0], raw.CurrentContext), nil
	}
	cfg, err := rest.InClusterConfig()
	if err == nil {
		return cfg, "in-cluster configuration", nil
	}
	tried = append(tried, "in-cluster configuration ("+err.Error()+")")
	return nil, "", fmt.Errorf("kubernetes: no cluster configuration found; tried %s (set KUBECONFIG or run kubectl config use-context)", strings.Join(tried, ", "))
}

func anyExists(files []string) bool {
	for _, f := range files {
		if _, err := os.Stat(f); err == nil {
			return true
		}
	}
	return false
}

func serverVersion(ctx context.Context, cs kubernetes.Interface) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	body, err := cs.Discovery().RESTClient().Get().AbsPath("/version").Do(ctx).Raw()
	if err != nil {
		return "", err
	}
	var v struct{ GitVersion string }
	if err := json.Unmarshal(body, &v); err != nil || v.GitVersion == "" {
		return "", errors.New("the server did not report its version")
	}
	return v.GitVersion, nil
}

// Info describes the cluster. Published ports are port-forwards that listen
// on 127.0.0.1 of this machine; the cluster is not local (State.Pid is 0).
func (e *Engine) Info() engine.Info { return e.info }

// Close stops every port-forward this engine holds. It leaves the
// cluster's resources alone.
func (e *Engine) Close() error {
	e.mu.Lock()
	fs := e.forwards
	e.forwards = map[string]*forward{}
	e.closed = true
	e.mu.Unlock()
	for _, f := range fs {
		f.close()
	}
	return nil
}
