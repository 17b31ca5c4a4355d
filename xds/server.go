package xds

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	discoverygrpc "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/envoyproxy/go-control-plane/pkg/log"
	deltav3 "github.com/envoyproxy/go-control-plane/pkg/server/delta/v3"
	sotwv3 "github.com/envoyproxy/go-control-plane/pkg/server/sotw/v3"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"golang.org/x/net/netutil"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/status"
	k8stypes "k8s.io/apimachinery/pkg/types"

	"github.com/berth-gateway/berth/xds/auth"
)

// Identity is the ServiceAccount a Gateway's proxies run as.
type Identity = auth.Identity

// CertificateSource supplies the serving certificate at every handshake
// (certs.Manager implements it), so a renewal needs no restart.
type CertificateSource interface {
	GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error)
}

// Options configure a Server. Start from DefaultOptions.
type Options struct {
	// Address Run listens on.
	Address string
	// Auth configures token authentication (audience, cache, timeouts).
	Auth auth.Options
	// MaxConcurrentStreams bounds streams per client connection (Envoy uses
	// one ADS stream per connection); a client asking for more waits.
	MaxConcurrentStreams uint32
	// MaxStreamsPerIdentity bounds the authenticated streams of one
	// ServiceAccount (one Gateway's proxies); more are refused with
	// ResourceExhausted.
	MaxStreamsPerIdentity int
	// MaxConnections bounds open client connections, TLS handshakes
	// included; further connections wait in the kernel's listen backlog.
	MaxConnections int
	// MaxConnectionsPerPeer bounds the connections from one IP address; more
	// are closed as soon as they are accepted.
	MaxConnectionsPerPeer int
	// MaxConnectionAge makes a client reconnect (GOAWAY) after this long,
	// spreading proxies over replicas; MaxConnectionAgeGrace is how long its
	// streams then have before the connection is closed.
	MaxConnectionAge      time.Duration
	MaxConnectionAgeGrace time.Duration
	// MaxResourceNames bounds the resource names of one request and, for
	// delta streams, the names subscribed per type.
	MaxResourceNames int
	// MaxResourceNameBytes bounds the total length of one request's
	// resource names.
	MaxResourceNameBytes int
	// MaxUnknownResourceNames bounds the names of a request (or of a delta
	// stream's subscriptions, per type) that the Gateway's snapshot does not
	// hold, each at most 256 bytes: what go-control-plane keeps per watch
	// is then bounded by the tenant's own configuration.
	MaxUnknownResourceNames int
	// RefusalsPerPeer and RefusalBurst rate-limit refusals per client IP:
	// past them, the peer's streams are refused (ResourceExhausted) before
	// any authentication work unless their token is cached as accepted.
	RefusalsPerPeer float64
	RefusalBurst    int
	// KeepaliveTime and KeepaliveTimeout: the server pings an idle
	// connection after KeepaliveTime and closes it if no answer comes within
	// KeepaliveTimeout, so dead proxies do not hold streams.
	KeepaliveTime    time.Duration
	KeepaliveTimeout time.Duration
	// KeepaliveMinTime is the shortest client ping interval tolerated;
	// clients pinging more often are disconnected.
	KeepaliveMinTime time.Duration
	// MaxConnectionIdle closes a connection that has had no stream for this
	// long (a proxy's ADS stream keeps its connection busy; this reaps
	// connections that only ever failed authentication).
	MaxConnectionIdle time.Duration
	// ConnectionTimeout bounds the TLS handshake of a new connection.
	ConnectionTimeout time.Duration
	// MaxRecvMsgSize bounds one request message.
	MaxRecvMsgSize int
	// MaxHeaderListSize bounds request metadata (and so the token).
	MaxHeaderListSize uint32
	// ShutdownGrace is how long Run waits for connections to close after
	// ending every stream, before closing them hard.
	ShutdownGrace time.Duration
	// Logger (nil: no logs).
	Logger *zap.Logger
	// Metrics (nil: created and not registered; see NewMetrics).
	Metrics *Metrics
}

// DefaultAddress is where the xDS server listens.
const DefaultAddress = ":18000"

// DefaultOptions returns the options berth runs with.
func DefaultOptions() Options {
	return Options{
		Address:                 DefaultAddress,
		Auth:                    auth.DefaultOptions(),
		MaxConcurrentStreams:    4,
		MaxStreamsPerIdentity:   32,
		MaxConnections:          1024,
		MaxConnectionsPerPeer:   16,
		MaxConnectionAge:        time.Hour,
		MaxConnectionAgeGrace:   5 * time.Minute,
		MaxResourceNames:        10000,
		MaxResourceNameBytes:    1 << 20,
		MaxUnknownResourceNames: 32,
		RefusalsPerPeer:         2,
		RefusalBurst:            20,
		KeepaliveTime:           30 * time.Second,
		KeepaliveTimeout:        10 * time.Second,
		KeepaliveMinTime:        10 * time.Second,
		MaxConnectionIdle:       30 * time.Second,
		ConnectionTimeout:       5 * time.Second,
		MaxRecvMsgSize:          1 << 20,
		MaxHeaderListSize:       64 << 10,
		ShutdownGrace:           5 * time.Second,
	}
}

// gateway is the published state of one Gateway.
type gateway struct {
	id      Identity
	version string
	// snap is the snapshot published (also the cache's): its per-type
	// versions are what proxies are served.
	snap        *cachev3.Snapshot
	publishedAt time.Time
}

// Server is the xDS server. Every replica runs one; each serves every
// Gateway it was given with Publish.
type Server struct {
	opts Options
	log  *zap.Logger
	// refusalLog logs at most 20 refusals a second: a flood of bad tokens
	// must not flood the logs (the metric counts every one).
	refusalLog *zap.Logger
	metrics    *Metrics
	auth       *auth.Authenticator
	cache      cachev3.SnapshotCache
	grpc       *grpc.Server
	peers      *peerLimits

	// ctx ends every stream when the server stops.
	ctx    context.Context
	cancel context.CancelFunc

	publishMu sync.Mutex // serialises Publish/Remove (cache and state together)

	mu         sync.RWMutex
	gateways   map[k8stypes.NamespacedName]*gateway
	byIdentity map[Identity]k8stypes.NamespacedName
	streams    map[k8stypes.NamespacedName]map[*serverStream]struct{}
	opened     map[streamID]time.Time // go-control-plane stream → when it opened
	stopped    bool
}

// streamID names a go-control-plane stream (sotw and delta count apart).
type streamID struct {
	delta bool
	id    int64
}

// New builds a Server that authenticates with reviewer and serves the
// certificate from certs. Zero option fields take their defaults.
func New(reviewer auth.TokenReviewer, certs CertificateSource, opts Options) (*Server, error) {
	if reviewer == nil || certs == nil {
		return nil, errors.New("xds server: a token reviewer and a certificate source are required")
	}
	d := DefaultOptions()
	if opts.Address == "" {
		opts.Address = d.Address
	}
	if opts.MaxConcurrentStreams == 0 {
		opts.MaxConcurrentStreams = d.MaxConcurrentStreams
	}
	for _, f := range []struct {
		v   *time.Duration
		def time.Duration
	}{{&opts.KeepaliveTime, d.KeepaliveTime}, {&opts.KeepaliveTimeout, d.KeepaliveTimeout},
		{&opts.KeepaliveMinTime, d.KeepaliveMinTime}, {&opts.ConnectionTimeout, d.ConnectionTimeout},
		{&opts.MaxConnectionIdle, d.MaxConnectionIdle},
		{&opts.MaxConnectionAge, d.MaxConnectionAge}, {&opts.MaxConnectionAgeGrace, d.MaxConnectionAgeGrace},
		{&opts.ShutdownGrace, d.ShutdownGrace}} {
		if *f.v <= 0 {
			*f.v = f.def
		}
	}
	for _, f := range []struct {
		v   *int
		def int
	}{
		{&opts.MaxStreamsPerIdentity, d.MaxStreamsPerIdentity}, {&opts.MaxConnections, d.MaxConnections},
		{&opts.MaxConnectionsPerPeer, d.MaxConnectionsPerPeer}, {&opts.MaxResourceNames, d.MaxResourceNames},
		{&opts.MaxResourceNameBytes, d.MaxResourceNameBytes}, {&opts.RefusalBurst, d.RefusalBurst},
		{&opts.MaxUnknownResourceNames, d.MaxUnknownResourceNames},
	} {
		if *f.v <= 0 {
			*f.v = f.def
		}
	}
	if opts.RefusalsPerPeer <= 0 {
		opts.RefusalsPerPeer = d.RefusalsPerPeer
	}
	if opts.MaxRecvMsgSize <= 0 {
		opts.MaxRecvMsgSize = d.MaxRecvMsgSize
	}
	if opts.MaxHeaderListSize == 0 {
		opts.MaxHeaderListSize = d.MaxHeaderListSize
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	if opts.Metrics == nil {
		m, err := NewMetrics(nil)
		if err != nil {
			return nil, err
		}
		opts.Metrics = m
	}
	s := &Server{
		opts: opts,
		log:  opts.Logger,
		refusalLog: opts.Logger.WithOptions(zap.WrapCore(func(c zapcore.Core) zapcore.Core {
			return zapcore.NewSamplerWithOptions(c, time.Second, 20, 0)
		})),
		metrics:    opts.Metrics,
		auth:       auth.New(reviewer, opts.Auth, opts.Metrics.Auth),
		gateways:   map[k8stypes.NamespacedName]*gateway{},
		byIdentity: map[Identity]k8stypes.NamespacedName{},
		streams:    map[k8stypes.NamespacedName]map[*serverStream]struct{}{},
		opened:     map[streamID]time.Time{},
		peers:      newPeerLimits(opts),
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	// The node id is the Gateway key: the stream wrapper has replaced every
	// request's node with the authenticated one before the cache sees it.
	s.cache = cachev3.NewSnapshotCache(true, cachev3.IDHash{}, cacheLogger{s.log})
	cb := callbacks{s}
	xdsServer := ads{sotw: sotwv3.NewServer(s.ctx, s.cache, cb), delta: deltav3.NewServer(s.ctx, s.cache, cb)}

	tlsConfig := &tls.Config{
		GetCertificate: certs.GetCertificate,
		MinVersion:     tls.VersionTLS12,
		NextProtos:     []string{"h2"},
	}
	s.grpc = grpc.NewServer(
		grpc.Creds(credentials.NewTLS(tlsConfig)),
		// Recovery is outermost: a panic ends its own call only.
		grpc.ChainStreamInterceptor(s.recoverStream, s.streamInterceptor),
		grpc.ChainUnaryInterceptor(s.recoverUnary, s.unaryInterceptor),
		grpc.MaxConcurrentStreams(opts.MaxConcurrentStreams),
		grpc.KeepaliveParams(keepalive.ServerParameters{
			Time: opts.KeepaliveTime, Timeout: opts.KeepaliveTimeout, MaxConnectionIdle: opts.MaxConnectionIdle,
			MaxConnectionAge: opts.MaxConnectionAge, MaxConnectionAgeGrace: opts.MaxConnectionAgeGrace,
		}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: opts.KeepaliveMinTime, PermitWithoutStream: true}),
		grpc.ConnectionTimeout(opts.ConnectionTimeout),
		grpc.MaxRecvMsgSize(opts.MaxRecvMsgSize),
		grpc.MaxHeaderListSize(opts.MaxHeaderListSize),
	)
	// Only ADS: one stream per proxy carries every type, in order.
	discoverygrpc.RegisterAggregatedDiscoveryServiceServer(s.grpc, xdsServer)
	return s, nil
}

// Serve serves on lis until Stop; it returns nil after Stop. It bounds
// connections: MaxConnections in all, MaxConnectionsPerPeer per IP.
func (s *Server) Serve(lis net.Listener) error {
	err := s.grpc.Serve(netutil.LimitListener(s.peers.listener(lis, s.refuseConn), s.opts.MaxConnections))
	if errors.Is(err, grpc.ErrServerStopped) {
		return nil
	}
	return err
}

// Run listens on Options.Address and serves until ctx ends, then stops
// gracefully.
func (s *Server) Run(ctx context.Context) error {
	lis, err := net.Listen("tcp", s.opts.Address)
	if err != nil {
		return fmt.Errorf("xds server: listen on %s: %w", s.opts.Address, err)
	}
	s.log.Info("xDS server listening", zap.String("address", lis.Addr().String()))
	errc := make(chan error, 1)
	go func() { errc <- s.Serve(lis) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		s.Stop()
		return <-errc
	}
}

// Start implements controller-runtime's manager.Runnable (it is Run).
func (s *Server) Start(ctx context.Context) error { return s.Run(ctx) }

// NeedLeaderElection is false: every replica serves xDS (proxies may
// connect to any of them), leader or not.
func (s *Server) NeedLeaderElection() bool { return false }

// Stop ends every stream with Unavailable (proxies reconnect, to another
// replica if this one is going away), waits up to ShutdownGrace for
// connections to close, then closes the rest.
func (s *Server) Stop() {
	s.mu.Lock()
	s.stopped = true
	for _, set := range s.streams {
		for st := range set {
			st.end(status.Error(codes.Unavailable, "xds server shutting down"))
		}
	}
	s.mu.Unlock()
	s.cancel()
	done := make(chan struct{})
	go func() { s.grpc.GracefulStop(); close(done) }()
	t := time.NewTimer(s.opts.ShutdownGrace)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		s.grpc.Stop()
		<-done
	}
}

// Streams returns how many authenticated streams Gateway gw has.
func (s *Server) Streams(gw k8stypes.NamespacedName) int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.streams[gw])
}

func (s *Server) streamOpened(id streamID) {
	s.mu.Lock()
	s.opened[id] = time.Now()
	s.mu.Unlock()
}

func (s *Server) streamClosed(id streamID) {
	s.mu.Lock()
	delete(s.opened, id)
	s.mu.Unlock()
}

// observePush records the publish-to-send latency of a response carrying
// the current version to a stream that was open when it was published.
func (s *Server) observePush(id streamID, key, typeURL, version string) {
	now := time.Now()
	s.mu.RLock()
	opened, ok := s.opened[id]
	var at time.Time
	if gw, found := s.gateways[gatewayOfKey(key)]; found && typeVersion(gw.snap, typeURL) == version {
		at = gw.publishedAt
	}
	s.mu.RUnlock()
	if !ok || at.IsZero() || !opened.Before(at) {
		return
	}
	s.metrics.PushLatency.WithLabelValues(shortType(typeURL)).Observe(now.Sub(at).Seconds())
}

// cacheLogger sends go-control-plane's chatter to debug.
type cacheLogger struct{ l *zap.Logger }

var _ log.Logger = cacheLogger{}

func (c cacheLogger) Debugf(f string, a ...any) { c.l.Sugar().Debugf(f, a...) }
func (c cacheLogger) Infof(f string, a ...any)  { c.l.Sugar().Debugf(f, a...) }
func (c cacheLogger) Warnf(f string, a ...any)  { c.l.Sugar().Warnf(f, a...) }
func (c cacheLogger) Errorf(f string, a ...any) { c.l.Sugar().Errorf(f, a...) }
