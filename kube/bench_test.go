package kube

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"

	"github.com/composegen/composegen/runtime/engine"
)

// The start-to-ready benchmarks bring up postgres and redis (the
// example's stack) and wait until both answer their protocol through a
// port-forward from this process.
//
// The limit is a namespace and two pods created directly through
// client-go, each port-forwarded (client-go's portforward package, as
// kubectl does) as soon as its pod runs and probed every 5-20ms. The bound
// is the same pods probed at their pod IP, without a port-forward. The
// engine does the same through the engine: CreateProject, Create and Start
// of both containers, the same probes through the published ports. Each
// iteration runs all three, in rotated order (the machine's load drifts);
// the benchmark reports the medians and the ratio engine/limit. Teardown
// is not timed.
//
//	go test -run '^$' -bench StartToReady -benchtime 10x

type benchService struct {
	name, image string
	env         []string
	port        int
	probe       func(net.Conn) error
}

var benchStack = []benchService{
	{"postgres", "postgres:16", []string{"POSTGRES_PASSWORD=bench"}, 5432, probePostgres},
	{"redis", "redis:7-alpine", nil, 6379, probeRedis},
}

func BenchmarkStartToReady(b *testing.B) {
	eng := testEngine(b)
	starts := []struct {
		name  string
		start func(context.Context, *Engine, string) error
		took  []time.Duration
	}{{"limit", startDirect, nil}, {"bound", startPodIP, nil}, {"engine", startEngine, nil}}
	for i := range b.N {
		for j := range starts {
			s := &starts[(i+j)%len(starts)] // rotated: the machine's load drifts
			s.took = append(s.took, timeStart(b, eng, s.start))
		}
	}
	limit, bound, eng2 := median(starts[0].took), median(starts[1].took), median(starts[2].took)
	b.ReportMetric(float64(limit.Milliseconds()), "limit-ms")
	b.ReportMetric(float64(bound.Milliseconds()), "bound-ms")
	b.ReportMetric(float64(eng2.Milliseconds()), "engine-ms")
	b.ReportMetric(float64(eng2)/float64(limit), "ratio")
	b.Logf("medians of %d: limit %v, pod-IP bound %v, engine %v: engine/limit %.2f, engine/bound %.2f",
		b.N, limit, bound, eng2, float64(eng2)/float64(limit), float64(eng2)/float64(bound))
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// timeStart times one start of the stack (until every service answers)
// and removes it.
func timeStart(b *testing.B, eng *Engine, start func(context.Context, *Engine, string) error) time.Duration {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	project := "kb-" + randomHex(4)
	t0 := time.Now()
	err := start(ctx, eng, project)
	d := time.Since(t0)
	if rerr := eng.Remove(ctx, engine.Resource{Kind: engine.KindProject, ID: namespaceOf(project)}); rerr != nil {
		b.Errorf("remove %s: %v", project, rerr)
	}
	if err != nil {
		b.Fatal(err)
	}
	return d
}

// startEngine starts the stack through the engine.
func startEngine(ctx context.Context, eng *Engine, project string) error {
	labels := map[string]string{testLabel: project}
	if err := eng.CreateProject(ctx, project, labels); err != nil {
		return err
	}
	return eachService(func(s benchService) error {
		spec := engine.ContainerSpec{
			Name: project + "-" + s.name + "-1", Project: project, Service: s.name, Number: 1,
			Image: s.image, Env: s.env, Labels: labels,
			Ports:    []engine.PortBinding{{Port: s.port, Protocol: "tcp", HostIP: "127.0.0.1"}},
			Networks: []engine.Attachment{{Aliases: []string{s.name}}},
		}
		id, err := eng.Create(ctx, spec)
		if err != nil {
			return err
		}
		if err := eng.Start(ctx, id); err != nil {
			return err
		}
		st, err := eng.Inspect(ctx, id)
		if err != nil {
			return err
		}
		hp := st.Ports[engine.PortKey{Port: s.port, Protocol: "tcp"}]
		err = probeUntil(ctx, net.JoinHostPort(hp.IP, strconv.Itoa(hp.Port)), s.probe)
		return err
	})
}

// startDirect starts the same pods with client-go alone, probed through
// port-forwards: the limit.
func startDirect(ctx context.Context, eng *Engine, project string) error {
	return startPods(ctx, eng, project, func(ctx context.Context, p *corev1.Pod, s benchService) error {
		return probeForwarded(ctx, eng, p.Namespace, s)
	})
}

// startPodIP starts the same pods with client-go alone, probed at their
// pod IP (where this machine reaches the pod network, as on k8senv): the
// bound no port-forward can beat.
func startPodIP(ctx context.Context, eng *Engine, project string) error {
	return startPods(ctx, eng, project, func(ctx context.Context, p *corev1.Pod, s benchService) error {
		return probeUntil(ctx, net.JoinHostPort(p.Status.PodIP, strconv.Itoa(s.port)), s.probe)
	})
}

// startPods creates a namespace and the stack's pods, and probes each
// once it runs.
func startPods(ctx context.Context, eng *Engine, project string, probe func(context.Context, *corev1.Pod, benchService) error) error {
	ns := namespaceOf(project)
	meta := metav1.ObjectMeta{Name: ns, Labels: map[string]string{labelManagedBy: managedBy, labelKind: kindProject}}
	if _, err := eng.cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: meta}, metav1.CreateOptions{}); err != nil {
		return err
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}
	if _, err := eng.cs.CoreV1().ServiceAccounts(ns).Create(ctx, sa, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	return eachService(func(s benchService) error {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: s.name}, Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever, AutomountServiceAccountToken: new(false), EnableServiceLinks: new(false),
			Containers: []corev1.Container{{Name: s.name, Image: s.image, ImagePullPolicy: corev1.PullIfNotPresent, Env: envVars(s.env)}},
		}}
		if _, err := eng.cs.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			return err
		}
		var running *corev1.Pod
		err := eng.observePod(ctx, ns, s.name, func(p *corev1.Pod, _ bool) (bool, error) {
			running = p
			return p != nil && p.Status.Phase == corev1.PodRunning, nil
		})
		if err != nil {
			return err
		}
		return probe(ctx, running, s)
	})
}

// probeForwarded probes through a kubectl-style port-forward, forwarding
// again whenever it dies: client-go's forwarder drops its connection
// when a forwarded connection fails (nothing listens in the pod yet).
func probeForwarded(ctx context.Context, eng *Engine, ns string, s benchService) error {
	for {
		addr, stop, err := kubectlForward(eng, ns, s.name, s.port)
		if err != nil {
			return err
		}
		err = probeLoop(ctx, addr, s.probe, true)
		stop()
		var op *net.OpError
		if err == nil || !errors.As(err, &op) || op.Op != "dial" {
			return err
		}
	}
}

// kubectlForward forwards a local port to the pod as kubectl
// port-forward does.
func kubectlForward(eng *Engine, ns, pod string, port int) (string, func(), error) {
	u := eng.cs.CoreV1().RESTClient().Post().Resource("pods").Namespace(ns).Name(pod).SubResource("portforward").URL()
	transport, upgrader, err := spdy.RoundTripperFor(eng.cfg)
	if err != nil {
		return "", nil, err
	}
	dialer := spdy.NewDialer(upgrader, &http.Client{Transport: transport}, http.MethodPost, u)
	stop, ready := make(chan struct{}), make(chan struct{})
	pf, err := portforward.NewOnAddresses(dialer, []string{"127.0.0.1"}, []string{"0:" + strconv.Itoa(port)}, stop, ready, io.Discard, io.Discard)
	if err != nil {
		return "", nil, err
	}
	errc := make(chan error, 1)
	go func() { errc <- pf.ForwardPorts() }()
	select {
	case <-ready:
	case err := <-errc:
		return "", nil, err
	}
	ports, err := pf.GetPorts()
	if err != nil {
		close(stop)
		return "", nil, err
	}
	return "127.0.0.1:" + strconv.Itoa(int(ports[0].Local)), func() { close(stop) }, nil
}

func eachService(fn func(benchService) error) error {
	var wg sync.WaitGroup
	errs := make([]error, len(benchStack))
	for i, s := range benchStack {
		wg.Go(func() { errs[i] = fn(s) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// probeUntil probes addr on the runtime's cadence (5ms, doubling to
// 20ms) until the probe passes.
func probeUntil(ctx context.Context, addr string, probe func(net.Conn) error) error {
	return probeLoop(ctx, addr, probe, false)
}

// probeLoop probes until the probe passes, or, with refusedEnds, until
// the address refuses connections (a kubectl port-forward that died).
func probeLoop(ctx context.Context, addr string, probe func(net.Conn) error, refusedEnds bool) error {
	delay := 5 * time.Millisecond
	for {
		err := probeOnce(ctx, addr, probe)
		var op *net.OpError
		if err == nil || refusedEnds && errors.As(err, &op) && op.Op == "dial" {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w (last: %v)", addr, ctx.Err(), err)
		case <-time.After(delay):
		}
		delay = min(delay*2, 20*time.Millisecond)
	}
}

func probeOnce(ctx context.Context, addr string, probe func(net.Conn) error) error {
	d := net.Dialer{Timeout: time.Second}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	return probe(c)
}

// probePostgres accepts any answer to a StartupMessage but "starting up"
// or "shutting down" (the runtime's postgres probe).
func probePostgres(conn net.Conn) error {
	var msg bytes.Buffer
	msg.Write([]byte{0, 0, 0, 0, 0, 3, 0, 0})
	msg.WriteString("user\x00composegen_probe\x00database\x00postgres\x00\x00")
	b := msg.Bytes()
	binary.BigEndian.PutUint32(b, uint32(len(b)))
	if _, err := conn.Write(b); err != nil {
		return err
	}
	r := bufio.NewReader(conn)
	typ, err := r.ReadByte()
	if err != nil {
		return err
	}
	if typ != 'E' {
		return nil
	}
	rest, _ := io.ReadAll(io.LimitReader(r, 1<<12))
	for _, code := range []string{"57P03", "57P01", "57P02"} {
		if bytes.Contains(rest, []byte("C"+code)) {
			return errors.New(code)
		}
	}
	return nil
}

func probeRedis(conn net.Conn) error {
	if _, err := conn.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	l, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(l, "+PONG") {
		return errors.New(strings.TrimSpace(l))
	}
	return nil
}
