package auth

import (
	"errors"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Reason says why a caller was refused. It is the label of the
// auth-failure metric, so the set is small and fixed.
type Reason string

const (
	// ReasonMissing: no authorization metadata, or an empty token.
	ReasonMissing Reason = "missing"
	// ReasonMalformed: not "Bearer <token>", not a compact JWT, bad base64 or
	// JSON, or no exp claim.
	ReasonMalformed Reason = "malformed"
	// ReasonTooLarge: the token exceeds Options.MaxTokenBytes.
	ReasonTooLarge Reason = "too_large"
	// ReasonExpired: the token's exp is not in the future.
	ReasonExpired Reason = "expired"
	// ReasonWrongAudience: the token (or the review) does not carry the xDS
	// audience.
	ReasonWrongAudience Reason = "wrong_audience"
	// ReasonRejected: the TokenReview said the token is not authenticated
	// (bad signature, deleted pod or ServiceAccount, unknown issuer, ...).
	ReasonRejected Reason = "rejected"
	// ReasonBadSignature: the token's signature does not verify against the
	// cluster's ServiceAccount issuer keys (checked locally, no review).
	ReasonBadSignature Reason = "bad_signature"
	// ReasonRevoked: the token is bound to a pod that was deleted.
	ReasonRevoked Reason = "revoked"
	// ReasonNotServiceAccount: authenticated, but not as a ServiceAccount.
	ReasonNotServiceAccount Reason = "not_service_account"
	// ReasonNotPodBound: a ServiceAccount token not bound to a pod while
	// Options.AllowUnboundTokens is not set.
	ReasonNotPodBound Reason = "not_pod_bound"
	// ReasonUnavailable: the TokenReview could not be made (apiserver error,
	// timeout, too many reviews in flight).
	ReasonUnavailable Reason = "unavailable"
	// ReasonUnknownIdentity: a valid ServiceAccount that serves no published
	// Gateway (set by the xDS server).
	ReasonUnknownIdentity Reason = "unknown_identity"
	// ReasonNodeMismatch: the node's cluster names another Gateway than the
	// one the identity maps to (set by the xDS server).
	ReasonNodeMismatch Reason = "node_mismatch"
	// ReasonMissingNode: the first request of a stream carries no node (set by
	// the xDS server).
	ReasonMissingNode Reason = "missing_node"
)

// Reasons lists every Reason, for pre-initialising metrics.
func Reasons() []Reason {
	return []Reason{ReasonMissing, ReasonMalformed, ReasonTooLarge, ReasonExpired,
		ReasonWrongAudience, ReasonRejected, ReasonBadSignature, ReasonRevoked, ReasonNotServiceAccount, ReasonNotPodBound,
		ReasonUnavailable, ReasonUnknownIdentity, ReasonNodeMismatch, ReasonMissingNode}
}

// Code is the gRPC code a refusal for this reason carries.
func (r Reason) Code() codes.Code {
	switch r {
	case ReasonMissing, ReasonMalformed, ReasonTooLarge, ReasonExpired, ReasonWrongAudience, ReasonRejected,
		ReasonBadSignature, ReasonRevoked:
		return codes.Unauthenticated
	case ReasonNotServiceAccount, ReasonNotPodBound, ReasonUnknownIdentity, ReasonNodeMismatch:
		return codes.PermissionDenied
	case ReasonMissingNode:
		return codes.InvalidArgument
	case ReasonUnavailable:
		return codes.Unavailable
	}
	return codes.Unauthenticated // fail closed on a reason this switch forgot
}

// Error is a refusal. It carries its gRPC status, so returning it from a
// gRPC handler or interceptor sends Reason.Code() to the client.
type Error struct {
	Reason Reason
	// Detail is a short human explanation; it reaches the client, so it never
	// contains the token.
	Detail string
	// Err is the underlying cause, if any (for errors.Is/As; not sent).
	Err error
}

// Errorf builds an Error with a formatted detail.
func Errorf(reason Reason, format string, args ...any) *Error {
	return &Error{Reason: reason, Detail: fmt.Sprintf(format, args...)}
}

func (e *Error) Error() string {
	if e.Detail == "" {
		return "xds auth: " + string(e.Reason)
	}
	return "xds auth: " + string(e.Reason) + ": " + e.Detail
}

func (e *Error) Unwrap() error { return e.Err }

// GRPCStatus makes status.FromError and status.Code see the right code.
func (e *Error) GRPCStatus() *status.Status { return status.New(e.Reason.Code(), e.Error()) }

// ReasonOf returns the Reason of an *Error in err's chain, or "" if none.
func ReasonOf(err error) Reason {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ""
}
