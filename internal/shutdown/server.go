package shutdown

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"go.uber.org/zap"
	"golang.org/x/net/netutil"
)

// ShutdownReadyPath is the preStop endpoint (render.ShutdownReadyPath).
const ShutdownReadyPath = "/shutdown/ready"

// maxConnections bounds the connections the server holds: a preStop
// request waits up to DrainStartWait, and requests from elsewhere must not
// pile up.
const maxConnections = 64

// Handler serves ShutdownReadyPath and HealthPath. A preStop request only
// waits: the drain starts when this process is terminating (SIGTERM, which
// the kubelet sends it only when the pod terminates) and a preStop request
// has arrived; a request while the pod is not terminating is answered 503
// after DrainStartWait and changes nothing.
func (m *Manager) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+ShutdownReadyPath, func(w http.ResponseWriter, r *http.Request) {
		m.log.Info("preStop request received", zap.String("remote", r.RemoteAddr))
		wait := time.NewTimer(m.opts.DrainStartWait)
		defer wait.Stop()
		select {
		case <-m.terminating:
		case <-r.Context().Done():
			return
		case <-wait.C:
			m.log.Warn("preStop request while the pod is not terminating; nothing done", zap.String("remote", r.RemoteAddr))
			http.Error(w, "the pod is not terminating: nothing done", http.StatusServiceUnavailable)
			return
		}
		res, ok := m.Drain(r.Context())
		if !ok {
			return // the kubelet gave up on the hook; the drain goes on
		}
		// 200 whatever the outcome: the hook's job is to hold Envoy's
		// SIGTERM back until the bounded drain is over, and a failed hook
		// would only add a FailedPreStopHook event.
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, res.String())
	})
	mux.HandleFunc("GET "+HealthPath, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	return mux
}

// ListenAndServe listens on Options.ListenAddress and calls Serve.
func (m *Manager) ListenAndServe(ctx context.Context) error {
	ln, err := net.Listen("tcp", m.opts.ListenAddress)
	if err != nil {
		return fmt.Errorf("shutdown manager: %w", err)
	}
	return m.Serve(ctx, netutil.LimitListener(ln, maxConnections))
}

// Serve serves on ln until ctx ends (SIGTERM: the pod is terminating) and
// then until the drain is over: a drain in progress is finished; with none
// started, it waits up to DrainStartWait for a preStop call, then MaxDrain
// for that drain. The
// listener is closed on return. A preStop response being written is let
// finish.
func (m *Manager) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           m.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          zap.NewStdLog(m.log),
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	m.log.Info("shutdown manager serving", zap.String("address", ln.Addr().String()), zap.String("envoyAdmin", m.opts.AdminURL))

	select {
	case err := <-serveErr:
		return fmt.Errorf("shutdown manager: %w", err)
	case <-ctx.Done():
	}
	close(m.terminating)
	m.waitForDrain()
	// Handlers are answering or about to: a drain has ended, so every
	// preStop handler returns at once.
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
		if !errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("shutdown manager: stopping the server: %w", err)
		}
	}
	m.log.Info("shutdown manager stopped")
	return nil
}

// waitForDrain is Serve's bounded wait after its context ended.
func (m *Manager) waitForDrain() {
	startWait := time.NewTimer(m.opts.DrainStartWait)
	defer startWait.Stop()
	select {
	case <-m.started:
	default:
		m.log.Info("terminating; waiting for a preStop request to start the drain", zap.Duration("timeout", m.opts.DrainStartWait))
		select {
		case <-m.started:
		case <-startWait.C:
			// Most likely the shutdown manager is being restarted on its
			// own; Envoy must not be drained for that.
			m.log.Info("no drain started; stopping")
			return
		}
	}
	m.log.Info("terminating; waiting for the drain to finish")
	<-m.done // bounded by MaxDrain
}
