package xds

import (
	"context"
	"strings"
	"sync"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoverygrpc "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	k8stypes "k8s.io/apimachinery/pkg/types"

	"github.com/berth-gateway/berth/xds/auth"
)

// authenticate maps the caller's bearer token to the Gateway it may read.
func (s *Server) authenticate(ctx context.Context) (auth.Result, k8stypes.NamespacedName, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	token, err := auth.TokenFromMetadata(md)
	if err != nil {
		return auth.Result{}, k8stypes.NamespacedName{}, err
	}
	res, err := s.auth.Authenticate(ctx, token)
	if err != nil {
		return auth.Result{}, k8stypes.NamespacedName{}, err
	}
	s.mu.RLock()
	gw, ok := s.byIdentity[res.Identity]
	s.mu.RUnlock()
	if !ok {
		return res, gw, auth.Errorf(auth.ReasonUnknownIdentity, "ServiceAccount %s serves no Gateway", res.Identity)
	}
	return res, gw, nil
}

// refuse counts and logs a refusal and returns it as a gRPC status error.
func (s *Server) refuse(ctx context.Context, method string, err error) error {
	reason := auth.ReasonOf(err)
	if reason == "" {
		reason = auth.ReasonUnavailable
	}
	s.metrics.AuthFailures.WithLabelValues(string(reason)).Inc()
	var addr string
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		addr = p.Addr.String()
	}
	s.refusalLog.Info("xDS stream refused", zap.String("reason", string(reason)), zap.String("peer", addr),
		zap.String("method", method), zap.Error(err))
	return status.Convert(err).Err()
}

// unaryInterceptor authenticates unary calls too (none are registered
// today; this keeps any future one closed by default).
func (s *Server) unaryInterceptor(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if _, _, err := s.authenticate(ctx); err != nil {
		return nil, s.refuse(ctx, info.FullMethod, err)
	}
	return handler(ctx, req)
}

// streamInterceptor authenticates a stream, binds it to its Gateway and
// hands go-control-plane a wrapper that enforces the binding.
func (s *Server) streamInterceptor(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	ctx := ss.Context()
	res, gw, err := s.authenticate(ctx)
	if err != nil {
		return s.refuse(ctx, info.FullMethod, err)
	}
	st, err := s.open(ss, res, gw)
	if err != nil {
		return s.refuse(ctx, info.FullMethod, err)
	}
	defer s.close(st)
	err = handler(srv, st)
	if cause := st.cause(); cause != nil {
		// Refusals the proxy caused count as auth failures; the server's own
		// endings (token expiry, Remove, Stop) do not.
		if r := auth.ReasonOf(cause); r == auth.ReasonNodeMismatch || r == auth.ReasonMissingNode {
			return s.refuse(ctx, info.FullMethod, cause)
		}
		return status.Convert(cause).Err()
	}
	return err
}

// open registers a stream of gw, re-checking the mapping under the lock so
// a concurrent Remove cannot leave a stream bound to a forgotten Gateway.
func (s *Server) open(ss grpc.ServerStream, res auth.Result, gw k8stypes.NamespacedName) (*serverStream, error) {
	ctx, cancel := context.WithCancelCause(ss.Context())
	key := NodeCluster(gw)
	st := &serverStream{
		ServerStream: ss, ctx: ctx, cancel: cancel, gw: gw, id: res.Identity, key: key,
		node: &corev3.Node{Id: key, Cluster: key},
		log:  s.log.With(zap.Stringer("gateway", gw), zap.Stringer("identity", res.Identity), zap.String("pod", res.PodName)),
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.stopped:
		cancel(nil)
		return nil, status.Error(codes.Unavailable, "xds server shutting down")
	case s.byIdentity[res.Identity] != gw:
		cancel(nil)
		return nil, auth.Errorf(auth.ReasonUnknownIdentity, "ServiceAccount %s serves no Gateway", res.Identity)
	}
	if s.streams[gw] == nil {
		s.streams[gw] = map[*serverStream]struct{}{}
	}
	s.streams[gw][st] = struct{}{}
	s.metrics.ConnectedProxies.WithLabelValues(gw.Namespace, gw.Name).Set(float64(len(s.streams[gw])))
	// The token's lifetime is the stream's: the proxy reconnects with its
	// rotated token, and a revoked one stops working.
	st.expiry = time.AfterFunc(time.Until(res.Expiry), func() {
		st.end(auth.Errorf(auth.ReasonExpired, "token expired; reconnect with a fresh token"))
	})
	st.log.Debug("xDS stream opened")
	return st, nil
}

func (s *Server) close(st *serverStream) {
	st.expiry.Stop()
	st.cancel(nil)
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.streams[st.gw], st)
	n := len(s.streams[st.gw])
	if n == 0 {
		delete(s.streams, st.gw)
	}
	if _, published := s.gateways[st.gw]; published || n > 0 {
		s.metrics.ConnectedProxies.WithLabelValues(st.gw.Namespace, st.gw.Name).Set(float64(n))
	} else {
		s.metrics.ConnectedProxies.DeleteLabelValues(st.gw.Namespace, st.gw.Name)
	}
	st.log.Debug("xDS stream closed", zap.Error(context.Cause(st.ctx)))
}

// serverStream binds a gRPC stream to the Gateway its token proved. Its
// context ends (with a status cause) when the stream must stop; RecvMsg
// then fails, which ends go-control-plane's handler.
type serverStream struct {
	grpc.ServerStream
	ctx    context.Context
	cancel context.CancelCauseFunc
	gw     k8stypes.NamespacedName
	id     auth.Identity
	key    string
	node   *corev3.Node // the only node go-control-plane ever sees
	log    *zap.Logger
	expiry *time.Timer

	mu       sync.Mutex
	endErr   error
	sawFirst bool // RecvMsg runs on one goroutine; guarded for the race detector
}

func (st *serverStream) Context() context.Context { return st.ctx }

// end stops the stream with err (the first reason wins).
func (st *serverStream) end(err error) {
	st.mu.Lock()
	if st.endErr == nil {
		st.endErr = err
	}
	st.mu.Unlock()
	st.cancel(err)
}

// cause is why the stream was ended, or nil if it ended by itself.
func (st *serverStream) cause() error {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.endErr
}

// RecvMsg receives the next request, checks its node against the
// authenticated Gateway and replaces it with the canonical node.
func (st *serverStream) RecvMsg(m any) error {
	errc := make(chan error, 1)
	go func() { errc <- st.ServerStream.RecvMsg(m) }()
	select {
	case err := <-errc:
		if err != nil {
			return err
		}
	case <-st.ctx.Done():
		return context.Cause(st.ctx)
	}
	var node **corev3.Node
	switch req := m.(type) {
	case *discoverygrpc.DiscoveryRequest:
		node = &req.Node
	case *discoverygrpc.DeltaDiscoveryRequest:
		node = &req.Node
	default:
		return nil
	}
	st.mu.Lock()
	first := !st.sawFirst
	st.sawFirst = true
	st.mu.Unlock()
	if err := st.checkNode(*node, first); err != nil {
		st.end(err)
		return err
	}
	*node = st.node
	return nil
}

func (st *serverStream) checkNode(n *corev3.Node, first bool) error {
	switch {
	case n == nil && first:
		return auth.Errorf(auth.ReasonMissingNode, "the first request must carry the node")
	case n == nil:
		return nil
	case n.GetCluster() != st.key:
		return auth.Errorf(auth.ReasonNodeMismatch, "node cluster %q is not %q, the Gateway this ServiceAccount serves",
			truncate(n.GetCluster(), 253), st.key)
	}
	if first {
		st.log.Info("xDS stream opened", zap.String("nodeID", truncate(n.GetId(), 253)))
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// shortType is the last segment of a type URL, for metric labels.
func shortType(typeURL string) string {
	return typeURL[strings.LastIndex(typeURL, ".")+1:]
}
