package render

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"github.com/berth-gateway/berth/internal/dataplane"
)

// The constants of bundle objects: labels and annotations, the field
// manager, the finalizer, the inventory label, and the file layout inside
// the Envoy pod. What other packages must agree on (ports, node cluster,
// token audience, controller name) is in internal/dataplane.
const (
	// FieldManager is the server-side apply field manager of everything berth
	// writes.
	FieldManager = "berth"
	// Finalizer holds a Gateway until its bundle and inventory are gone.
	Finalizer = "gateway.berth.dev/finalizer"
	// LabelName, LabelComponent and LabelManagedBy are the recommended
	// Kubernetes labels, on every bundle object.
	LabelName      = "app.kubernetes.io/name"
	LabelComponent = "app.kubernetes.io/component"
	LabelManagedBy = "app.kubernetes.io/managed-by"
	// LabelNameValue, LabelComponentValue and LabelManagedByValue are their
	// values.
	LabelNameValue      = "envoy"
	LabelComponentValue = "proxy"
	LabelManagedByValue = "berth"
	// LabelOwningGatewayName and LabelOwningGatewayNamespace are the labels
	// the reference implementation puts on data-plane objects (kept for
	// compatibility with tooling that selects on them).
	LabelOwningGatewayName      = "gateway.envoyproxy.io/owning-gateway-name"
	LabelOwningGatewayNamespace = "gateway.envoyproxy.io/owning-gateway-namespace"
	// LabelGatewayName is the Gateway API's well-known label (GEP-1762).
	LabelGatewayName = "gateway.networking.k8s.io/gateway-name"

	// InventoryLabel is cli-utils' inventory-id label (common.InventoryLabel);
	// its value on a Gateway's inventory ConfigMap is InventoryID.
	InventoryLabel = "cli-utils.sigs.k8s.io/inventory-id"

	// AnnotationBootstrapHash on the pod template is a digest of the Envoy
	// bootstrap, so that a bootstrap change rolls the pods (Envoy reads its
	// bootstrap once; the CA and token are reloaded through SDS instead).
	AnnotationBootstrapHash = "gateway.berth.dev/bootstrap-hash"

	// ContainerEnvoy and ContainerShutdownManager are the pod's containers.
	ContainerEnvoy           = "envoy"
	ContainerShutdownManager = "shutdown-manager"

	// ConfigKeyBootstrap and ConfigKeyCA are keys of the bundle ConfigMap:
	// the Envoy bootstrap and the CA bundle (PEM) that signs the xDS server
	// certificate (the SDS files are in bootstrap.go).
	ConfigKeyBootstrap = "bootstrap.yaml"
	ConfigKeyCA        = "ca.crt"

	// ConfigDir is where the ConfigMap is mounted in both containers.
	ConfigDir = "/etc/berth"
	// TokenDir is where the projected ServiceAccount token is mounted;
	// TokenFile is its file name.
	TokenDir  = "/var/run/secrets/berth/xds"
	TokenFile = "token"

	// SDSSecretToken and SDSSecretCA name the secrets in the SDS file.
	SDSSecretToken = "xds-token"
	SDSSecretCA    = "xds-ca"
	// XDSClusterName is the bootstrap's static cluster of the xDS server.
	XDSClusterName = "xds_cluster"

	// volumeConfig and volumeToken are the pod volumes of the ConfigMap
	// and of the projected token.
	volumeConfig = "config"
	volumeToken  = "xds-token"
)

// Re-exported for callers that predate internal/dataplane, which owns them;
// new code reads dataplane directly.
const (
	DefaultControllerName = dataplane.DefaultControllerName
	AdminPort             = dataplane.AdminPort
	ShutdownManagerPort   = dataplane.ShutdownManagerPort
	ShutdownReadyPath     = dataplane.ShutdownReadyPath
)

// maxNameLength is the length of a DNS-1123 label, the strictest name rule
// among the bundle's kinds (Service names).
const maxNameLength = 63

// ProxyName is the name of the data-plane objects of Gateway ns/gw:
// envoy-<ns>-<gw>-<h>, h the first 8 hex digits of sha256("<ns>/<gw>").
// Longer than 63 characters, the readable part is shortened and the hash
// kept; dots (allowed in Gateway names) become dashes so the name is a
// valid DNS label.
func ProxyName(namespace, gateway string) string {
	return shortName("envoy-"+namespace+"-"+gateway, hash8(namespace+"/"+gateway))
}

// ServiceAccountName is the name of the ServiceAccount the proxy of Gateway
// ns/gw runs as (in ns). Each Gateway has its own, so an authenticated
// ServiceAccount identifies exactly one Gateway: the xDS server indexes
// Gateways by (namespace, ServiceAccountName(namespace, name)).
func ServiceAccountName(namespace, gateway string) string { return ProxyName(namespace, gateway) }

// InventoryID is the cli-utils inventory id of Gateway ns/gw's bundle (the
// value of InventoryLabel).
func InventoryID(namespace, gateway string) string { return ProxyName(namespace, gateway) }

// InventoryName is the name of the inventory ConfigMap of Gateway ns/gw (in
// ns).
func InventoryName(namespace, gateway string) string {
	return ProxyName(namespace, gateway) + "-inventory"
}

// Labels are the labels of every object of Gateway ns/gw's bundle.
func Labels(namespace, gateway string) map[string]string {
	l := SelectorLabels(namespace, gateway)
	l[LabelManagedBy] = LabelManagedByValue
	l[LabelGatewayName] = labelValue(gateway)
	return l
}

// SelectorLabels select the Envoy pods of Gateway ns/gw (Deployment, Service
// and PDB selectors). They never change for a Gateway.
func SelectorLabels(namespace, gateway string) map[string]string {
	return map[string]string{
		LabelName:                   LabelNameValue,
		LabelComponent:              LabelComponentValue,
		LabelOwningGatewayName:      labelValue(gateway),
		LabelOwningGatewayNamespace: namespace,
	}
}

// labelValue returns s if it is short enough for a label value, otherwise
// its shortened form with a hash of the whole (Gateway names may be up to
// 253 characters, label values 63).
func labelValue(s string) string {
	if len(s) <= maxNameLength {
		return s
	}
	return shortName(s, hash8(s))
}

// shortName joins readable and hash with a dash, shortening readable so the
// result fits in 63 characters, mapping dots to dashes and never leaving a
// dash before the hash's dash.
func shortName(readable, hash string) string {
	readable = strings.ReplaceAll(readable, ".", "-")
	if max := maxNameLength - len(hash) - 1; len(readable) > max {
		readable = strings.TrimRight(readable[:max], "-")
	}
	return readable + "-" + hash
}

func hash8(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:4])
}
