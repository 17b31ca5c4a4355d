package render

import (
	"errors"
	"fmt"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/berth-gateway/berth/internal/dataplane"
)

// MaxTokenExpirationSeconds caps Options.TokenExpirationSeconds (2 h).
const MaxTokenExpirationSeconds = 7200

// Options are the controller-wide settings that shape every bundle.
type Options struct {
	// ControllerNamespace is berth's own namespace (where the xDS Service
	// runs). Used to derive XDSHost when that is empty.
	ControllerNamespace string
	// XDSHost is the DNS name (or IP) Envoy dials for xDS, e.g.
	// berth-xds.berth-system.svc. Empty: berth-xds.<ControllerNamespace>.svc.
	XDSHost string
	// XDSPort is the xDS server's port.
	XDSPort int32
	// XDSServerName is the DNS name the xDS server certificate carries; Envoy
	// sends it as SNI and requires it as a DNS SAN. Empty: XDSHost.
	XDSServerName string
	// TokenAudience is the audience of the projected ServiceAccount token
	// Envoy presents to the xDS server (the server reviews tokens for it).
	TokenAudience string
	// PrivilegedPortOffset is added to a Gateway listener port below 1024
	// to get the port Envoy binds (the Service's targetPort): Envoy runs
	// unprivileged. 0 binds the listener ports themselves. Translation
	// must use the same offset (the controller sets both from this one).
	PrivilegedPortOffset int32
	// TokenExpirationSeconds is the lifetime of the projected token; the
	// kubelet refreshes it at 80%. At most MaxTokenExpirationSeconds: a
	// token copied out of a running pod works until it expires.
	TokenExpirationSeconds int64
	// EnvoyImage is the Envoy image, unless an EnvoyProxy sets one.
	EnvoyImage string
	// EnvoyLogLevel is Envoy's --log-level.
	EnvoyLogLevel string
	// ShutdownManagerImage is berth's own image; its container runs
	// ShutdownManagerCommand.
	ShutdownManagerImage string
	// ShutdownManagerCommand is the command of the shutdown-manager container.
	ShutdownManagerCommand []string
	// TerminationGracePeriodSeconds bounds how long a terminating Envoy pod
	// drains connections.
	TerminationGracePeriodSeconds int64
	// CABundle is the PEM CA bundle that signs the xDS server certificate; it
	// becomes ca.crt in every bundle's ConfigMap. Empty renders an empty
	// ca.crt and a warning (offline rendering without a CA).
	CABundle []byte
}

// DefaultOptions returns the settings of a default installation in
// namespace berth-system.
func DefaultOptions() Options {
	return Options{
		ControllerNamespace:           "berth-system",
		XDSHost:                       "berth-xds.berth-system.svc",
		XDSPort:                       18000,
		TokenAudience:                 dataplane.DefaultTokenAudience,
		PrivilegedPortOffset:          dataplane.DefaultPrivilegedPortOffset,
		TokenExpirationSeconds:        3600,
		EnvoyImage:                    "docker.io/envoyproxy/envoy:distroless-v1.40.0",
		EnvoyLogLevel:                 "info",
		ShutdownManagerImage:          "ghcr.io/berth-gateway/berth:latest",
		ShutdownManagerCommand:        []string{"berth", "shutdown-manager"},
		TerminationGracePeriodSeconds: 300,
	}
}

// withDefaults fills the derived fields.
func (o Options) withDefaults() Options {
	if o.XDSHost == "" && o.ControllerNamespace != "" {
		o.XDSHost = "berth-xds." + o.ControllerNamespace + ".svc"
	}
	if o.XDSServerName == "" {
		o.XDSServerName = o.XDSHost
	}
	return o
}

var envoyLogLevels = map[string]bool{"trace": true, "debug": true, "info": true, "warning": true, "warn": true, "error": true, "critical": true, "off": true}

// Validate reports every invalid option (joined).
func (o Options) Validate() error {
	o = o.withDefaults()
	var errs []error
	if o.XDSHost == "" {
		errs = append(errs, errors.New("xDS host is empty (and no controller namespace to derive it from)"))
	} else if validation.IsValidIP(nil, o.XDSHost) != nil {
		for _, msg := range validation.IsDNS1123Subdomain(o.XDSHost) {
			errs = append(errs, fmt.Errorf("xDS host %q: %s", o.XDSHost, msg))
		}
	}
	if o.XDSPort < 1 || o.XDSPort > 65535 {
		errs = append(errs, fmt.Errorf("xDS port %d is out of range", o.XDSPort))
	}
	for _, msg := range validation.IsDNS1123Subdomain(o.XDSServerName) {
		errs = append(errs, fmt.Errorf("xDS server name %q: %s", o.XDSServerName, msg))
	}
	if o.TokenAudience == "" {
		errs = append(errs, errors.New("token audience is empty"))
	}
	if err := dataplane.CheckPrivilegedPortOffset(o.PrivilegedPortOffset); err != nil {
		errs = append(errs, err)
	}
	if o.TokenExpirationSeconds < 600 {
		errs = append(errs, fmt.Errorf("token expiration %ds is below the Kubernetes minimum of 600s", o.TokenExpirationSeconds))
	}
	if o.TokenExpirationSeconds > MaxTokenExpirationSeconds {
		errs = append(errs, fmt.Errorf("token expiration %ds is above berth's maximum of %ds", o.TokenExpirationSeconds, MaxTokenExpirationSeconds))
	}
	if o.EnvoyImage == "" {
		errs = append(errs, errors.New("envoy image is empty"))
	}
	if !envoyLogLevels[o.EnvoyLogLevel] {
		errs = append(errs, fmt.Errorf("envoy log level %q is not one of trace, debug, info, warning, error, critical, off", o.EnvoyLogLevel))
	}
	if o.ShutdownManagerImage == "" {
		errs = append(errs, errors.New("shutdown-manager image is empty"))
	}
	if len(o.ShutdownManagerCommand) == 0 {
		errs = append(errs, errors.New("shutdown-manager command is empty"))
	}
	if o.TerminationGracePeriodSeconds < 0 {
		errs = append(errs, fmt.Errorf("termination grace period %ds is negative", o.TerminationGracePeriodSeconds))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("invalid render options: %w", err)
	}
	return nil
}
