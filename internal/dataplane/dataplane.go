// Package dataplane owns the facts that the parts of berth which never talk
// to each other must still agree on about a Gateway's Envoy data plane: the
// ports Envoy's pod keeps for itself, the shift of privileged listener ports,
// the node cluster a proxy reports, the token audience and the default
// GatewayClass controller name.
//
// render writes these facts into the bundle (ports, probes, token volume,
// bootstrap), xds/translate into the listeners it sends, the xDS server
// checks them on every stream, the shutdown manager listens and calls where
// they say, and the controller and the commands default their options from
// them. Each is defined here and only here; everything else reads it.
//
// It is pure and imports nothing of berth, so every package may import it.
package dataplane

import "fmt"

// The ports and paths of Envoy's pod. They are fixed (not options): the pod
// passes no flags to the shutdown manager, and a Gateway listener may not
// use them (render refuses it).
const (
	// AdminPort is Envoy's admin API, bound to 127.0.0.1 only; the shutdown
	// manager drains Envoy through it.
	AdminPort = 19000
	// ReadyPort serves ReadyPath: 200 while Envoy is initialised and not
	// draining (the readiness and startup probes).
	ReadyPort = 19001
	// ReadyPath is the readiness endpoint on ReadyPort.
	ReadyPath = "/ready"
	// ShutdownManagerPort is where `berth shutdown-manager` listens;
	// ShutdownReadyPath there blocks until Envoy has drained (the envoy
	// container's preStop hook calls it).
	ShutdownManagerPort = 19002
	ShutdownReadyPath   = "/shutdown/ready"
	// StatsPort serves StatsPath, Envoy's metrics in Prometheus' text
	// format (proxied to the admin API, of which nothing else is exposed),
	// unless an EnvoyProxy disables the Prometheus endpoint. Its container
	// port is named StatsPortName. (The reference implementation serves
	// stats on 19001, which is berth's ReadyPort; scrapers should select
	// the port by name or follow the pod's prometheus.io annotations.)
	StatsPort     = 19003
	StatsPath     = "/stats/prometheus"
	StatsPortName = "metrics"
)

// ReservedPorts are the container ports of the pod's own endpoints, which
// no Gateway listener may map to.
var ReservedPorts = [...]int32{AdminPort, ReadyPort, ShutdownManagerPort, StatsPort}

// MaxRegexProgramSize is the RE2 program size above which Envoy refuses a
// regular expression (its runtime key re2.max_program_size.error_level,
// which the bootstrap sets: Envoy's own default is 100). xds/translate
// refuses every regex whose RE2 program could be larger (see its
// regex.go); the bound it computes counts RE2's compiled instructions
// before RE2 flattens the program, and the limit leaves a factor of 2 for
// flattening.
const (
	MaxRegexProgramSize   = 1000
	RegexProgramSizeBound = MaxRegexProgramSize / 2
)

// Privileged listener ports: Envoy runs unprivileged, so a Gateway listener
// port below 1024 is served on port+offset in the pod (the Service maps the
// listener port to it).
const (
	// DefaultPrivilegedPortOffset is the offset unless an option sets
	// another.
	DefaultPrivilegedPortOffset int32 = 10000
	// MaxPrivilegedPortOffset keeps port 1023 plus the offset a valid port.
	MaxPrivilegedPortOffset int32 = 65535 - 1023
)

// CheckPrivilegedPortOffset refuses an offset that maps a privileged port
// out of range. 0 is valid: Envoy then binds the listener ports themselves
// (it needs CAP_NET_BIND_SERVICE for those below 1024).
func CheckPrivilegedPortOffset(offset int32) error {
	if offset < 0 || offset > MaxPrivilegedPortOffset {
		return fmt.Errorf("privileged port offset %d: must be 0-%d", offset, MaxPrivilegedPortOffset)
	}
	return nil
}

// ContainerPort is the port Envoy binds for a Gateway listener port, given
// the privileged port offset.
func ContainerPort(listenerPort, offset int32) int32 {
	if listenerPort < 1024 {
		return listenerPort + offset
	}
	return listenerPort
}

// NodeCluster is the Envoy node cluster the proxy of Gateway ns/gw reports:
// "<ns>/<gw>". The xDS server refuses a node whose cluster differs from the
// Gateway its token authenticates, and keys snapshots by it.
func NodeCluster(namespace, gateway string) string { return namespace + "/" + gateway }

const (
	// DefaultTokenAudience is the audience of the projected ServiceAccount
	// token Envoy presents to the xDS server, and the one the server
	// reviews tokens for, unless an option sets another.
	DefaultTokenAudience = "berth.dev/xds"
	// DefaultControllerName is the GatewayClass controllerName berth serves
	// unless told otherwise: the reference implementation's, so that its
	// manifests work unchanged (never run both on one class).
	DefaultControllerName = "gateway.envoyproxy.io/gatewayclass-controller"
)

// ServedProtocols are the Gateway listener protocols berth programs into
// Envoy, in the order messages list them.
var ServedProtocols = []string{"HTTP", "HTTPS", "TLS", "TCP", "UDP"}

// Serves reports whether berth programs Gateway listeners of protocol into
// Envoy (ServedProtocols). Translate refuses the others
// (UnsupportedProtocol) and render gives them no Service or container port,
// so a load balancer never opens a port that nothing answers.
func Serves(protocol string) bool {
	for _, p := range ServedProtocols {
		if p == protocol {
			return true
		}
	}
	return false
}

// Transport is the transport (Kubernetes port protocol) of a Gateway
// listener protocol: "UDP" for UDP listeners, "TCP" for every other one.
func Transport(protocol string) string {
	if protocol == "UDP" {
		return "UDP"
	}
	return "TCP"
}
