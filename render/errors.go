package render

import (
	"errors"
	"fmt"
	"strings"

	"github.com/berth-gateway/berth/internal/dataplane"
)

// ParametersReason says why a Gateway's or GatewayClass's parameters are
// unusable; the controller reports the error as InvalidParameters.
type ParametersReason string

const (
	// ParametersUnsupportedKind: parametersRef names something other than a
	// gateway.envoyproxy.io EnvoyProxy.
	ParametersUnsupportedKind ParametersReason = "UnsupportedKind"
	// ParametersMissingNamespace: a GatewayClass parametersRef to an
	// EnvoyProxy (a namespaced kind) without a namespace.
	ParametersMissingNamespace ParametersReason = "MissingNamespace"
	// ParametersNotFound: the referenced EnvoyProxy does not exist.
	ParametersNotFound ParametersReason = "NotFound"
	// ParametersInvalid: the EnvoyProxy (or the merge of both) is invalid.
	ParametersInvalid ParametersReason = "Invalid"
)

// ParametersError is an unusable parametersRef or EnvoyProxy. The controller
// turns it into GatewayClass/Gateway status with reason InvalidParameters.
type ParametersError struct {
	// Referrer is the object holding the parametersRef, e.g.
	// "GatewayClass eg" or "Gateway team-a/gateway-a".
	Referrer string
	// Ref is the referenced object, e.g. "EnvoyProxy team-a/proxy".
	Ref    string
	Reason ParametersReason
	Err    error
}

func (e *ParametersError) Error() string {
	return fmt.Sprintf("%s parametersRef %s: %s: %v", e.Referrer, e.Ref, reasonText[e.Reason], e.Err)
}

func (e *ParametersError) Unwrap() error { return e.Err }

var reasonText = map[ParametersReason]string{
	ParametersUnsupportedKind:  "unsupported kind",
	ParametersMissingNamespace: "namespace missing",
	ParametersNotFound:         "not found",
	ParametersInvalid:          "invalid",
}

// GatewayError is a Gateway berth cannot render a data plane for (no
// listeners, a listener on a port berth reserves, invalid infrastructure
// labels or annotations).
type GatewayError struct {
	// Gateway is "<ns>/<name>".
	Gateway string
	Err     error
}

func (e *GatewayError) Error() string { return fmt.Sprintf("gateway %s: %v", e.Gateway, e.Err) }

func (e *GatewayError) Unwrap() error { return e.Err }

// ErrNoServedListeners: none of the Gateway's listeners has a protocol berth
// serves (dataplane.Serves), so there is no Service port to open and no data
// plane is deployed. The Gateway is not accepted because its listeners are
// not valid (the spec's ListenersNotValid), each listener saying why.
var ErrNoServedListeners = errors.New("no listener of a protocol berth serves (" + strings.Join(dataplane.ServedProtocols, ", ") + ")")
