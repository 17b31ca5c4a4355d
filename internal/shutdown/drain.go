package shutdown

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"go.uber.org/zap"
)

// Options configure a Manager. Start from DefaultOptions: its addresses are
// the contract with the rendered pod, which passes no flags.
type Options struct {
	// ListenAddress is where the preStop hook and the health probe reach
	// the shutdown manager (render.ShutdownManagerPort on every interface:
	// the kubelet's httpGet hook dials the pod IP, so loopback would not
	// do; what reaches it from elsewhere cannot start a drain, see Handler).
	ListenAddress string
	// AdminURL is Envoy's admin API, bound to loopback in the same pod.
	AdminURL string
	// MinDrain is the shortest drain: after the health check is failed,
	// load balancers and kube-proxy need time to notice the pod is no longer
	// ready, and new connections may arrive until they do.
	MinDrain time.Duration
	// MaxDrain bounds the whole drain, admin calls included. Keep it well
	// under the pod's terminationGracePeriodSeconds (300 s by default):
	// after that the kubelet kills Envoy regardless.
	MaxDrain time.Duration
	// PollInterval is the time between two reads of Envoy's stats.
	PollInterval time.Duration
	// AdminTimeout bounds one call to the admin API.
	AdminTimeout time.Duration
	// AdminFailures is how many consecutive failed admin calls mean Envoy is
	// gone (nothing left to drain), ending the drain early.
	AdminFailures int
	// DrainStartWait bounds both halves of the drain's trigger, which is a
	// preStop request and this process's SIGTERM together (the kubelet
	// stops the containers in parallel, so either may come first): Serve
	// keeps serving this long after SIGTERM for the preStop request (a
	// shutdown manager restarted on its own must not hold its pod nor drain
	// Envoy), and a preStop request waits this long for SIGTERM before it
	// is answered 503 with nothing done (a request from anywhere else than
	// the kubelet of a terminating pod has no effect).
	DrainStartWait time.Duration
	// IgnoredStatPrefixes are HTTP connection managers whose connections do
	// not count: the admin API (our own polling) and the readiness listener
	// (probes).
	IgnoredStatPrefixes []string
	// Log receives the drain's progress; nil discards it.
	Log *zap.Logger
	// HTTPClient calls the admin API; nil means a client without proxies or
	// keep-alives (a drain makes a handful of calls).
	HTTPClient *http.Client
}

// Defaults shared with render (render.AdminPort, render.ShutdownManagerPort):
// the rendered pod passes no flags.
const (
	DefaultListenAddress = "0.0.0.0:19002"
	DefaultAdminURL      = "http://127.0.0.1:19000"
	// HealthPath answers 200 while the process serves (its own probes).
	HealthPath = "/healthz"
)

// DefaultOptions returns the options the rendered pod relies on.
func DefaultOptions() Options {
	return Options{
		ListenAddress:       DefaultListenAddress,
		AdminURL:            DefaultAdminURL,
		MinDrain:            5 * time.Second,
		MaxDrain:            60 * time.Second,
		PollInterval:        time.Second,
		AdminTimeout:        2 * time.Second,
		AdminFailures:       3,
		DrainStartWait:      10 * time.Second,
		IgnoredStatPrefixes: []string{"admin", "ready"},
	}
}

// Validate reports options that cannot work.
func (o Options) Validate() error {
	var errs []error
	if o.MinDrain < 0 {
		errs = append(errs, fmt.Errorf("min drain %s is negative", o.MinDrain))
	}
	if o.MaxDrain <= 0 {
		errs = append(errs, fmt.Errorf("max drain %s must be positive", o.MaxDrain))
	}
	if o.MinDrain > o.MaxDrain {
		errs = append(errs, fmt.Errorf("min drain %s exceeds max drain %s", o.MinDrain, o.MaxDrain))
	}
	if o.PollInterval <= 0 {
		errs = append(errs, fmt.Errorf("poll interval %s must be positive", o.PollInterval))
	}
	if o.AdminTimeout <= 0 {
		errs = append(errs, fmt.Errorf("admin timeout %s must be positive", o.AdminTimeout))
	}
	if o.AdminFailures < 1 {
		errs = append(errs, fmt.Errorf("admin failures %d must be at least 1", o.AdminFailures))
	}
	if o.DrainStartWait < 0 {
		errs = append(errs, fmt.Errorf("drain start wait %s is negative", o.DrainStartWait))
	}
	if _, err := newAdminClient(o.AdminURL, http.DefaultClient, nil); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Outcome says why a drain ended.
type Outcome string

const (
	// Drained: no active downstream connection after at least MinDrain.
	Drained Outcome = "Drained"
	// TimedOut: MaxDrain passed with connections still active.
	TimedOut Outcome = "TimedOut"
	// AdminUnavailable: AdminFailures consecutive admin calls failed; Envoy
	// is taken to be gone.
	AdminUnavailable Outcome = "AdminUnavailable"
)

// Result describes a finished drain.
type Result struct {
	Outcome Outcome
	// HealthcheckFailed is whether Envoy acknowledged /healthcheck/fail.
	HealthcheckFailed bool
	// Connections is the last count read (-1 when none could be read).
	Connections int64
	// Duration is how long the drain took.
	Duration time.Duration
	// Err is the last admin error, if any.
	Err error
}

func (r Result) String() string {
	s := fmt.Sprintf("%s after %s: %d active connections, health check failed: %t",
		r.Outcome, r.Duration.Round(time.Millisecond), r.Connections, r.HealthcheckFailed)
	if r.Err != nil {
		s += ", last admin error: " + r.Err.Error()
	}
	return s
}

// Manager runs at most one drain per process, shared by every caller.
type Manager struct {
	opts  Options
	admin *adminClient
	log   *zap.Logger

	once        sync.Once
	terminating chan struct{} // closed when Serve's context ends (SIGTERM)
	started     chan struct{} // closed when the drain starts
	done        chan struct{} // closed when the drain ends
	result      Result        // written before done is closed
}

// New returns a Manager; it fails on invalid options.
func New(o Options) (*Manager, error) {
	if err := o.Validate(); err != nil {
		return nil, fmt.Errorf("shutdown manager options: %w", err)
	}
	hc := o.HTTPClient
	if hc == nil {
		hc = &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	}
	admin, err := newAdminClient(o.AdminURL, hc, o.IgnoredStatPrefixes)
	if err != nil {
		return nil, err
	}
	log := o.Log
	if log == nil {
		log = zap.NewNop()
	}
	return &Manager{opts: o, admin: admin, log: log, terminating: make(chan struct{}), started: make(chan struct{}), done: make(chan struct{})}, nil
}

// Drain starts the drain if it has not started and waits until it ends or
// ctx ends. The drain itself does not depend on ctx: a preStop caller that
// goes away must not leave Envoy half-drained, and the drain is bounded by
// MaxDrain anyway. ok is false when ctx ended first.
func (m *Manager) Drain(ctx context.Context) (res Result, ok bool) {
	m.once.Do(func() {
		close(m.started)
		go m.run()
	})
	select {
	case <-m.done:
		return m.result, true
	case <-ctx.Done():
		return Result{}, false
	}
}

// Started is closed once a drain has started.
func (m *Manager) Started() <-chan struct{} { return m.started }

// Done is closed once the drain has ended.
func (m *Manager) Done() <-chan struct{} { return m.done }

func (m *Manager) run() {
	defer close(m.done)
	m.result = m.drain()
	m.log.Info("drain finished", zap.String("outcome", string(m.result.Outcome)),
		zap.Duration("duration", m.result.Duration), zap.Int64("activeConnections", m.result.Connections),
		zap.Bool("healthcheckFailed", m.result.HealthcheckFailed), zap.Error(m.result.Err))
}

func (m *Manager) drain() Result {
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), m.opts.MaxDrain)
	defer cancel()
	m.log.Info("drain started", zap.Duration("minDrain", m.opts.MinDrain), zap.Duration("maxDrain", m.opts.MaxDrain))

	res := Result{Connections: -1}
	failures := 0
	// call runs one admin call with its own timeout, counting consecutive
	// failures; it reports whether the call succeeded.
	call := func(what string, f func(context.Context) error) bool {
		cctx, ccancel := context.WithTimeout(ctx, m.opts.AdminTimeout)
		defer ccancel()
		if err := f(cctx); err != nil {
			if ctx.Err() != nil {
				return false // MaxDrain, not the admin API
			}
			failures++
			res.Err = err
			m.log.Warn("envoy admin call failed", zap.String("call", what), zap.Int("consecutiveFailures", failures), zap.Error(err))
			return false
		}
		failures = 0
		return true
	}
	minDone := time.NewTimer(m.opts.MinDrain)
	defer minDone.Stop()
	minPassed := m.opts.MinDrain == 0
	ticker := time.NewTicker(m.opts.PollInterval)
	defer ticker.Stop()
	for {
		if !res.HealthcheckFailed {
			// Retried on every poll until Envoy acknowledges it: the
			// point of the drain is that no new connection arrives.
			if call("healthcheck/fail", m.admin.failHealthcheck) {
				res.HealthcheckFailed = true
				m.log.Info("envoy health check failed; waiting for connections to drain")
			}
		}
		read := false // a count read in this round, not a stale one
		if res.HealthcheckFailed {
			read = call("stats", func(c context.Context) error {
				n, err := m.admin.activeConnections(c)
				if err == nil {
					if n != res.Connections {
						m.log.Info("active downstream connections", zap.Int64("count", n))
					}
					res.Connections = n
				}
				return err
			})
		}
		switch {
		case failures >= m.opts.AdminFailures:
			res.Outcome = AdminUnavailable
		case minPassed && read && res.Connections == 0:
			res.Outcome = Drained
		case ctx.Err() != nil:
			res.Outcome = TimedOut
		}
		if res.Outcome != "" {
			res.Duration = time.Since(start)
			return res
		}
		select {
		case <-ctx.Done():
			res.Outcome, res.Duration = TimedOut, time.Since(start)
			return res
		case <-minDone.C:
			// Read the count again right away: it may already be zero.
			minPassed = true
		case <-ticker.C:
		}
	}
}
