package xds

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoverygrpc "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8stypes "k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"

	"github.com/berth-gateway/berth/xds/auth"
)

// authenticate maps the caller's bearer token to the Gateway it may read.
// A peer that spent its refusal budget gets no authentication work: only a
// token already cached as accepted passes.
func (s *Server) authenticate(ctx context.Context) (auth.Result, k8stypes.NamespacedName, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	token, err := auth.TokenFromMetadata(md)
	ip := peerIP(peerAddr(ctx))
	if s.peers.throttled(ip) {
		res, ok := s.auth.Cached(token)
		if !ok || err != nil {
			return auth.Result{}, k8stypes.NamespacedName{}, limitErrorf(LimitPeerRefusals, codes.ResourceExhausted,
				"too many refused calls from %s lately; retry later", ip)
		}
		return s.bind(res)
	}
	if err != nil {
		return auth.Result{}, k8stypes.NamespacedName{}, err
	}
	res, err := s.auth.Authenticate(ctx, token)
	if err != nil {
		return auth.Result{}, k8stypes.NamespacedName{}, err
	}
	return s.bind(res)
}

// bind maps an authenticated identity to the Gateway it serves.
func (s *Server) bind(res auth.Result) (auth.Result, k8stypes.NamespacedName, error) {
	s.mu.RLock()
	gw, ok := s.byIdentity[res.Identity]
	s.mu.RUnlock()
	if !ok {
		return res, gw, auth.Errorf(auth.ReasonUnknownIdentity, "ServiceAccount %s serves no Gateway", res.Identity)
	}
	return res, gw, nil
}

// refuse counts and logs a refusal and returns it as a gRPC status error.
// A refusal the caller caused spends its peer's refusal budget.
func (s *Server) refuse(ctx context.Context, method string, err error) error {
	var le *limitError
	if errors.As(err, &le) {
		if le.limit != LimitPeerRefusals && le.limit != LimitPanic {
			s.peers.refused(peerIP(peerAddr(ctx)))
		}
		return s.refuseLimit(ctx, method, le)
	}
	reason := auth.ReasonOf(err)
	if reason == "" {
		reason = auth.ReasonUnavailable
	}
	if reason != auth.ReasonUnavailable {
		s.peers.refused(peerIP(peerAddr(ctx)))
	}
	s.metrics.AuthFailures.WithLabelValues(string(reason)).Inc()
	s.refusalLog.Info("xDS stream refused", zap.String("reason", string(reason)), zap.String("peer", peerAddr(ctx)),
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
// hands go-control-plane a wrapper that enforces the binding and the
// request limits.
func (s *Server) streamInterceptor(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	ctx := ss.Context()
	res, gw, err := s.authenticate(ctx)
	if err != nil {
		return s.refuse(ctx, info.FullMethod, err)
	}
	st, err := s.open(ss, res, gw, info.FullMethod)
	if err != nil {
		return s.refuse(ctx, info.FullMethod, err)
	}
	defer s.close(st)
	err = handler(srv, st)
	if cause := st.cause(); cause != nil {
		// Refusals the proxy caused count; the server's own endings
		// (token expiry, revocation, Remove, Stop) do not.
		var le *limitError
		if errors.As(cause, &le) && le.counted {
			return le.GRPCStatus().Err()
		}
		if r := auth.ReasonOf(cause); r == auth.ReasonNodeMismatch || r == auth.ReasonMissingNode || errors.As(cause, &le) {
			return s.refuse(ctx, info.FullMethod, cause)
		}
		return status.Convert(cause).Err()
	}
	return err
}

// open registers a stream of gw, re-checking the mapping under the lock so
// a concurrent Remove cannot leave a stream bound to a forgotten Gateway,
// nor a concurrent RevokePod a stream of a deleted pod.
func (s *Server) open(ss grpc.ServerStream, res auth.Result, gw k8stypes.NamespacedName, method string) (*serverStream, error) {
	ctx, cancel := context.WithCancelCause(ss.Context())
	key := NodeCluster(gw)
	st := &serverStream{
		ServerStream: ss, srv: s, method: method, ctx: ctx, cancel: cancel, gw: gw, id: res.Identity, podUID: res.PodUID, key: key,
		node: &corev3.Node{Id: key, Cluster: key},
		log:  s.log.With(zap.Stringer("gateway", gw), zap.Stringer("identity", res.Identity), zap.String("pod", res.PodName)),
	}
	if strings.HasSuffix(method, "/DeltaAggregatedResources") {
		st.subscribed = map[string]map[string]struct{}{}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for o := range s.streams[gw] {
		if o.id == res.Identity {
			n++
		}
	}
	switch {
	case s.stopped:
		cancel(nil)
		return nil, status.Error(codes.Unavailable, "xds server shutting down")
	case s.byIdentity[res.Identity] != gw:
		cancel(nil)
		return nil, auth.Errorf(auth.ReasonUnknownIdentity, "ServiceAccount %s serves no Gateway", res.Identity)
	case s.auth.Revoked(res.PodUID):
		cancel(nil)
		return nil, auth.Errorf(auth.ReasonRevoked, "the pod %q this token is bound to was deleted", res.PodName)
	case n >= s.opts.MaxStreamsPerIdentity:
		cancel(nil)
		return nil, limitErrorf(LimitStreamsPerIdentity, codes.ResourceExhausted, "ServiceAccount %s has %d streams, limit %d", res.Identity, n, s.opts.MaxStreamsPerIdentity)
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

// RevokePod ends the streams of proxy pod uid and forgets its cached
// tokens (the controller calls it when one of berth's proxy pods is
// deleted): its token no longer opens a stream, even before it expires. It
// returns how many streams it ended.
func (s *Server) RevokePod(uid string) int {
	if uid == "" {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	tokens := s.auth.RevokePod(uid)
	n := 0
	for _, set := range s.streams {
		for st := range set {
			if st.podUID == uid {
				st.end(auth.Errorf(auth.ReasonRevoked, "the pod this stream's token is bound to was deleted"))
				n++
			}
		}
	}
	s.metrics.Revocations.Inc()
	s.log.Info("proxy pod deleted; revoked its tokens and streams", zap.String("podUID", uid),
		zap.Int("cachedTokens", tokens), zap.Int("streams", n))
	return n
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
// context ends (with a status cause) when the stream must stop; RecvMsg and
// SendMsg then fail at once, which ends go-control-plane's handler, and no
// response is sent after that.
type serverStream struct {
	grpc.ServerStream
	srv    *Server
	method string
	ctx    context.Context
	cancel context.CancelCauseFunc
	gw     k8stypes.NamespacedName
	id     auth.Identity
	podUID string
	key    string
	node   *corev3.Node // the only node go-control-plane ever sees
	log    *zap.Logger
	expiry *time.Timer
	// subscribed are a delta stream's subscriptions per type (nil for
	// state-of-the-world); only RecvMsg's goroutine touches it.
	subscribed map[string]map[string]struct{}

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

// SendMsg sends a response unless the stream was ended; a send the client
// does not read (flow control) is abandoned when the stream ends, so a
// stalled client cannot keep a stream past its token's expiry.
func (st *serverStream) SendMsg(m any) error {
	runSendHook(st.ctx)
	if err := st.cause(); err != nil {
		return err
	}
	errc := make(chan error, 1)
	go func() { errc <- st.ServerStream.SendMsg(m) }()
	select {
	case err := <-errc:
		return err
	case <-st.ctx.Done():
		return context.Cause(st.ctx)
	}
}

// RecvMsg receives the next request, checks its node against the
// authenticated Gateway and replaces it with the canonical node, and
// refuses what a proxy never sends.
func (st *serverStream) RecvMsg(m any) (err error) {
	errc := make(chan error, 1)
	go func() {
		err := st.ServerStream.RecvMsg(m)
		if status.Code(err) == codes.ResourceExhausted {
			// gRPC has already answered the client and ended the call, so
			// the refusal is counted here, not by the interceptor.
			le := limitErrorf(LimitMessageSize, codes.ResourceExhausted, "%s", status.Convert(err).Message())
			le.counted = true
			st.srv.peers.refused(peerIP(peerAddr(st.ctx)))
			_ = st.srv.refuseLimit(st.ctx, st.method, le)
			st.end(le)
			err = le
		}
		errc <- err
	}()
	select {
	case err := <-errc:
		if err != nil {
			return err
		}
	case <-st.ctx.Done():
		return context.Cause(st.ctx)
	}
	// This runs on go-control-plane's receiving goroutine, out of the
	// interceptors' reach.
	defer func() {
		if v := recover(); v != nil {
			st.srv.recovered(st.ctx, "RecvMsg", v, &err)
			st.end(err)
		}
	}()
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
	if err := st.srv.checkRequest(st.key, m, st.subscribed); err != nil {
		st.end(err)
		return err
	}
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

// PodDeletions is an informer event handler calling RevokePod for every
// pod deleted; register it on an informer of berth's proxy pods.
func (s *Server) PodDeletions() toolscache.ResourceEventHandler {
	return toolscache.ResourceEventHandlerFuncs{
		DeleteFunc: func(obj any) {
			if d, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			if p, ok := obj.(metav1.Object); ok {
				s.RevokePod(string(p.GetUID()))
			}
		},
	}
}
