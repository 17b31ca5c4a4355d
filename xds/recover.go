package xds

import (
	"context"
	"runtime/debug"

	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// recovered turns a panic into Internal for the call it happened in, with
// a log line (stack included) and a count: one call's bug must not end
// every tenant's control plane.
func (s *Server) recovered(ctx context.Context, method string, v any, err *error) {
	s.metrics.Refusals.WithLabelValues(string(LimitPanic)).Inc()
	s.log.Error("xDS handler panicked; ending that call with Internal", zap.String("peer", peerAddr(ctx)),
		zap.String("method", method), zap.Any("panic", v), zap.ByteString("stack", debug.Stack()))
	*err = status.Error(codes.Internal, "internal error")
}

func (s *Server) recoverStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
	defer func() {
		if v := recover(); v != nil {
			s.recovered(ss.Context(), info.FullMethod, v, &err)
		}
	}()
	return handler(srv, ss)
}

func (s *Server) recoverUnary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
	defer func() {
		if v := recover(); v != nil {
			s.recovered(ctx, info.FullMethod, v, &err)
		}
	}()
	return handler(ctx, req)
}
