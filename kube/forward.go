package kube

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"

	"github.com/composegen/composegen/runtime/engine"
)

// dialTimeout bounds the set-up of a port-forward connection.
const dialTimeout = 15 * time.Second

// forward publishes a container's ports: one local listener per port,
// held for the container's life, so that its host ports stay the same
// across restarts. Each accepted connection is forwarded through the
// pod's port-forward connection, dialled on demand (ahead of time once the
// pod runs) and again after the pod was recreated or the connection
// failed. A connection accepted while nothing listens in the pod is closed
// at once.
type forward struct {
	e       *Engine
	ns, pod string

	mu      sync.Mutex
	conn    *fconn          // the connection new streams use
	all     map[*fconn]bool // every open connection
	dialing chan struct{}   // closed when the dial in progress ends
	lns     []net.Listener
	bound   map[engine.PortKey]engine.HostPort
	closed  bool
	reqID   atomic.Int64
}

// fconn is a port-forward connection and the forwarded connections that
// use it. A retired one takes no new streams and is closed once its last
// stream ends, so that retiring it never cuts a client's connection.
type fconn struct {
	c       httpstream.Connection
	active  int
	retired bool
}

// forwardFor returns the container's forward, creating its listeners. With
// anyPort, a fixed host port that is taken is replaced by an ephemeral one
// (see Publish); without it, it is an error, as on Docker.
func (e *Engine) forwardFor(id string, ports []engine.PortBinding, anyPort bool) (*forward, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if f := e.forwards[id]; f != nil {
		return f, nil
	}
	if e.closed {
		return nil, errors.New("the engine is closed")
	}
	ns, pod, err := splitID(id)
	if err != nil {
		return nil, err
	}
	f := &forward{e: e, ns: ns, pod: pod, bound: map[engine.PortKey]engine.HostPort{}}
	for _, p := range ports {
		if err := f.listen(p, anyPort); err != nil {
			f.close()
			return nil, err
		}
	}
	e.forwards[id] = f
	return f, nil
}

// Publish opens this process's port-forwards to a container that another
// process created, such as one of a shared stack that this process
// attaches to (see engine.Publisher): a listener on 127.0.0.1 per port that
// its pod records, forwarded like those of the containers this engine
// created (held until the container is removed through this engine or the
// engine is closed, reconnected after the pod restarts or is recreated).
// The first connection is dialled ahead, in the background. A host port
// that the compose file fixes (WithFixedPorts, an advertised port) is
// taken when it is free; when another process holds it (the one that
// started the stack, on this machine), this process's forward listens on
// an ephemeral port instead, which the returned ports (and Inspect) say.
// Calling it again returns the same ports.
func (e *Engine) Publish(ctx context.Context, id string) (map[engine.PortKey]engine.HostPort, error) {
	if f := e.existingForward(id); f != nil {
		return f.ports(), nil
	}
	p, err := e.getPod(ctx, id)
	if err != nil {
		return nil, err
	}
	f, err := e.podForward(id, p, true)
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", id, err)
	}
	f.mu.Lock()
	idle := f.conn == nil && f.dialing == nil && len(f.bound) > 0
	f.mu.Unlock()
	if idle {
		f.redial()
	}
	return f.ports(), nil
}

var _ engine.Publisher = (*Engine)(nil)

func (e *Engine) existingForward(id string) *forward {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.forwards[id]
}

// listen opens the local listener of one port; with anyPort, on an
// ephemeral port when its fixed one is taken.
func (f *forward) listen(p engine.PortBinding, anyPort bool) error {
	ip := p.HostIP
	if ip == "" {
		ip = "127.0.0.1"
	}
	port := p.HostPort
	if port == "" {
		port = "0"
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, port))
	if err != nil && anyPort && port != "0" {
		ln, err = net.Listen("tcp", net.JoinHostPort(ip, "0"))
	}
	if err != nil {
		return fmt.Errorf("publish port %d: %w", p.Port, err)
	}
	addr := ln.Addr().(*net.TCPAddr)
	f.lns = append(f.lns, ln)
	f.bound[engine.PortKey{Port: p.Port, Protocol: "tcp"}] = engine.HostPort{IP: ip, Port: addr.Port}
	go f.accept(ln, p.Port)
	return nil
}

func (f *forward) ports() map[engine.PortKey]engine.HostPort {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := make(map[engine.PortKey]engine.HostPort, len(f.bound))
	for k, v := range f.bound {
		m[k] = v
	}
	return m
}

func (f *forward) accept(ln net.Listener, port int) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go f.handle(c, port)
	}
}

// close stops the listeners and the connections.
func (f *forward) close() {
	f.mu.Lock()
	f.closed = true
	all := f.all
	f.all, f.conn = nil, nil
	lns := f.lns
	f.mu.Unlock()
	for _, ln := range lns {
		ln.Close()
	}
	for fc := range all {
		fc.c.Close()
	}
}

// reconnect retires the connection (its pod was deleted or restarted)
// and dials the next one in the background.
func (f *forward) reconnect() {
	f.mu.Lock()
	if f.conn != nil {
		f.retireLocked(f.conn)
	}
	f.mu.Unlock()
	f.redial()
}

// redial dials the connection in the background, so that the next client
// does not wait for it.
func (f *forward) redial() {
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), dialTimeout)
		defer cancel()
		if fc, err := f.acquire(ctx); err == nil {
			f.release(fc)
		}
	}()
}

// retire stops new streams on fc.
func (f *forward) retire(fc *fconn) {
	f.mu.Lock()
	f.retireLocked(fc)
	f.mu.Unlock()
}

func (f *forward) retireLocked(fc *fconn) {
	if f.conn == fc {
		f.conn = nil
	}
	fc.retired = true
	if fc.active == 0 && f.all[fc] {
		delete(f.all, fc)
		go fc.c.Close()
	}
}

// release ends one forwarded connection's use of fc.
func (f *forward) release(fc *fconn) {
	f.mu.Lock()
	fc.active--
	if fc.retired {
		f.retireLocked(fc)
	}
	f.mu.Unlock()
}

// acquire returns the current connection for one more forwarded
// connection, dialling it when there is none (one dial at a time).
func (f *forward) acquire(ctx context.Context) (*fconn, error) {
	for {
		f.mu.Lock()
		if f.closed {
			f.mu.Unlock()
			return nil, errors.New("port-forward closed")
		}
		if fc := f.conn; fc != nil && !isClosed(fc.c) {
			fc.active++
			f.mu.Unlock()
			return fc, nil
		}
		if f.conn != nil {
			f.retireLocked(f.conn)
		}
		if wait := f.dialing; wait != nil {
			f.mu.Unlock()
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		f.dialing = make(chan struct{})
		f.mu.Unlock()
		c, err := f.dial(ctx)
		f.mu.Lock()
		close(f.dialing)
		f.dialing = nil
		if err == nil && f.closed {
			c.Close()
			err = errors.New("port-forward closed")
		}
		if err != nil {
			f.mu.Unlock()
			return nil, err
		}
		f.conn = &fconn{c: c}
		if f.all == nil {
			f.all = map[*fconn]bool{}
		}
		f.all[f.conn] = true
		f.mu.Unlock()
	}
}

func isClosed(c httpstream.Connection) bool {
	select {
	case <-c.CloseChan():
		return true
	default:
		return false
	}
}

// dial opens a port-forward connection to the pod: WebSockets, or SPDY
// for API servers that do not tunnel it (as kubectl does).
func (f *forward) dial(ctx context.Context) (httpstream.Connection, error) {
	u := f.e.cs.CoreV1().RESTClient().Post().Resource("pods").Namespace(f.ns).Name(f.pod).SubResource("portforward").URL()
	transport, upgrader, err := spdy.RoundTripperFor(f.e.cfg)
	if err != nil {
		return nil, err
	}
	spdyDialer := spdy.NewDialer(upgrader, &http.Client{Transport: transport}, http.MethodPost, u)
	ws, err := portforward.NewSPDYOverWebsocketDialer(u, f.e.cfg)
	if err != nil {
		return nil, err
	}
	d := portforward.NewFallbackDialer(ws, spdyDialer, func(err error) bool {
		return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
	})
	type result struct {
		c   httpstream.Connection
		err error
	}
	ch := make(chan result, 1)
	go func() {
		c, _, err := d.Dial(portforward.PortForwardProtocolV1Name)
		ch <- result{c, err}
	}()
	select {
	case r := <-ch:
		return r.c, r.err
	case <-ctx.Done():
		go func() {
			if r := <-ch; r.c != nil {
				r.c.Close()
			}
		}()
		return nil, ctx.Err()
	}
}

// handle forwards one local connection to port of the pod.
func (f *forward) handle(local net.Conn, port int) {
	defer local.Close()
	ctx, cancel := context.WithTimeout(context.Background(), dialTimeout)
	defer cancel()
	fc, errStream, data, err := f.streams(ctx, port)
	if err != nil {
		return
	}
	defer f.release(fc)
	defer fc.c.RemoveStreams(errStream, data)
	remoteErr := make(chan struct{})
	go func() {
		// The error stream carries a message when the pod's port cannot
		// be reached: the local connection is closed at once, as when
		// nothing listens. A connection that carried such an error stops
		// taking new streams (on it the API server stops answering, which
		// is why client-go closes it): the next client gets a new one.
		if msg, _ := io.ReadAll(errStream); len(msg) > 0 {
			close(remoteErr)
			local.Close()
			f.retire(fc)
			f.redial()
		}
	}()
	remoteDone, localFailed := make(chan struct{}), make(chan struct{})
	go func() {
		_, _ = io.Copy(local, data)
		close(remoteDone)
	}()
	go func() {
		if _, err := io.Copy(data, local); err != nil {
			close(localFailed)
		}
		data.Close() // no more data from this side
	}()
	select {
	case <-remoteDone:
	case <-remoteErr:
	case <-localFailed:
	}
	_ = data.Reset()
}

// streams opens the error and data streams of one forwarded connection,
// on a new connection once if the current one turns out to be dead.
func (f *forward) streams(ctx context.Context, port int) (*fconn, httpstream.Stream, httpstream.Stream, error) {
	for attempt := 0; ; attempt++ {
		fc, err := f.acquire(ctx)
		if err != nil {
			return nil, nil, nil, err
		}
		h := http.Header{}
		h.Set(corev1.StreamType, corev1.StreamTypeError)
		h.Set(corev1.PortHeader, strconv.Itoa(port))
		h.Set(corev1.PortForwardRequestIDHeader, strconv.FormatInt(f.reqID.Add(1), 10))
		errStream, err := fc.c.CreateStream(h)
		if err == nil {
			errStream.Close() // nothing is written to it
			h.Set(corev1.StreamType, corev1.StreamTypeData)
			var data httpstream.Stream
			if data, err = fc.c.CreateStream(h); err == nil {
				return fc, errStream, data, nil
			}
			fc.c.RemoveStreams(errStream)
		}
		f.retire(fc)
		f.release(fc)
		if attempt > 0 {
			return nil, nil, nil, err
		}
	}
}
