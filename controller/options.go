package controller

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/labels"
	k8stypes "k8s.io/apimachinery/pkg/types"

	"github.com/berth-gateway/berth/apply"
	"github.com/berth-gateway/berth/internal/dataplane"
	"github.com/berth-gateway/berth/internal/rollbudget"
	"github.com/berth-gateway/berth/render"
	"github.com/berth-gateway/berth/xds"
	"github.com/berth-gateway/berth/xds/certs"
	"github.com/berth-gateway/berth/xds/translate"
)

// DefaultNamespace is berth's own namespace unless POD_NAMESPACE says otherwise.
const DefaultNamespace = "berth-system"

// Options configure a Controller. Start from DefaultOptions.
type Options struct {
	// ControllerName selects the GatewayClasses berth serves (spec.controllerName).
	ControllerName string
	// Namespace is berth's own namespace: the xDS TLS Secret, the leader
	// election lease and the xDS Service live there.
	Namespace string
	// WatchNamespaces limits every watch (and the RBAC berth needs) to these
	// namespaces; empty watches the whole cluster.
	WatchNamespaces []string
	// WatchNamespaceSelector, when set, serves only Gateways (and routes)
	// in namespaces whose labels match it.
	WatchNamespaceSelector string

	// Render shapes every bundle; CABundle is filled from the certificate
	// manager, ControllerNamespace from Namespace, TokenAudience from
	// XDS.Auth.Audience.
	Render render.Options
	// Apply configures the apply engine (Namespaces is set from WatchNamespaces).
	Apply apply.Options
	// XDS configures the xDS server; Certs its TLS material (Namespace is set
	// from Namespace, DNSNames from Render.XDSHost when empty).
	XDS   xds.Options
	Certs certs.Options
	// Translate configures translation (ControllerName is set from
	// ControllerName, PrivilegedPortOffset from Render.PrivilegedPortOffset:
	// the Service's target ports and the ports Envoy's listeners bind must
	// agree).
	Translate translate.Options

	// MetricsBindAddress serves Prometheus metrics ("0" disables).
	MetricsBindAddress string
	// Profiling serves net/http/pprof under /debug/pprof/ on the metrics
	// address (needs MetricsBindAddress).
	Profiling bool
	// HealthProbeBindAddress serves /healthz and /readyz ("0" disables).
	HealthProbeBindAddress string
	// LeaderElection makes one replica apply and write status; every replica
	// serves xDS. LeaderElectionID names the Lease in Namespace.
	LeaderElection   bool
	LeaderElectionID string

	// Workers is the number of Gateways reconciled concurrently.
	Workers int
	// SweepInterval is how often inventories without a Gateway are destroyed
	// (also once at start).
	SweepInterval time.Duration
	// KindDiscoveryInterval is how often the optional kinds whose CRDs
	// were not installed (TCPRoute, TLSRoute, UDPRoute, BackendTLSPolicy,
	// ClientTrafficPolicy, ListenerSet) are looked up again; one that appears is
	// watched from then on.
	KindDiscoveryInterval time.Duration
	// ResyncPeriod is the informers' resync period (a full reconcile of
	// everything; a no-op writes nothing).
	ResyncPeriod time.Duration
	// MaxConcurrentRolls bounds how many Gateways' data planes roll (a
	// change of the Deployment's pod template) at once: a number, or a
	// percentage of the Gateways served (rounded up, at least 1); "0" is
	// unlimited.
	MaxConcurrentRolls string
	// RollProgressDeadline is how long a roll may take to be fully updated
	// and Available before it is reported stuck (it keeps its slot).
	RollProgressDeadline time.Duration
	// InitialStatusDelay is how long after its creation a new Gateway's
	// first status may wait when all it would say is "accepted, data plane
	// on its way" (Accepted=True, Programmed=False/Pending): a data plane
	// Available within it gets one status write (Programmed=True) instead
	// of two, and until then the Gateway keeps the CRD's default status
	// (Accepted and Programmed Unknown, "Waiting for controller"), which no
	// wait takes for ready. Anything else (an invalid Gateway, a listener
	// problem, a failed object, a stuck roll-out past the delay) is written
	// at once. 0 writes the first status at once.
	InitialStatusDelay time.Duration
	// QPS and Burst of the controller's own client (status writes, finalizers).
	QPS   float32
	Burst int
	// APICompression asks the apiserver for gzip-compressed responses,
	// watch streams included. Off by default: next to its apiserver the
	// controller spends CPU decompressing every watch event (and the
	// apiserver compressing it) to save traffic that costs little; on for
	// a controller far from its apiserver.
	APICompression bool

	// Logger receives structured logs (zap through zapr in `berth controller`).
	Logger logr.Logger

	// HoldReconcile, when set, is called at the start of every Gateway
	// reconcile (controller "gateway": apply and status; "gateway-xds":
	// translation and publishing) and of every ListenerSet reconcile
	// (controller HoldListenerSet, with the ListenerSet's key), and with
	// controller HoldAfterPending right after a reconcile wrote Pending for
	// changed inputs, and may
	// block, as a busy work queue, a slow apply or a leader hand-over would:
	// tests use it to hold the controller back deterministically. It must
	// return when ctx is done.
	HoldReconcile func(ctx context.Context, controller string, key k8stypes.NamespacedName)
}

// HoldAfterPending is the controller name HoldReconcile is called with
// after a Gateway's status said Pending for changed inputs, before the
// bundle is applied.
const HoldAfterPending = "gateway-pending-written"

// HoldListenerSet is the controller name HoldReconcile is called with at
// the start of a ListenerSet's status reconcile.
const HoldListenerSet = "listenerset"

// DefaultOptions returns the settings of a default installation.
func DefaultOptions() Options {
	ns := DefaultNamespace
	if env := os.Getenv("POD_NAMESPACE"); env != "" {
		ns = env
	}
	ro := render.DefaultOptions()
	ro.XDSHost = "" // derived from Namespace
	ao := apply.DefaultOptions()
	// Readiness is watch-driven (apply's Subscribe), so a Run need not wait
	// for Deployments to become Available: the wait only lets objects that
	// are Current at once (ServiceAccount, ConfigMap) report it. A longer
	// wait holds a worker per Gateway and caps throughput (2 s and 10
	// workers: 5 Gateways/s).
	ao.ReconcileTimeout = 100 * time.Millisecond
	// The apiserver, not the client, should be the limit when 200
	// Gateways are created at once.
	ao.QPS, ao.Burst = 200, 400
	return Options{
		ControllerName:         dataplane.DefaultControllerName,
		Namespace:              ns,
		Render:                 ro,
		Apply:                  ao,
		XDS:                    xds.DefaultOptions(),
		Certs:                  certs.DefaultOptions(),
		Translate:              translate.DefaultOptions(),
		MetricsBindAddress:     ":8080",
		HealthProbeBindAddress: ":8081",
		LeaderElectionID:       "berth-controller",
		Workers:                16,
		SweepInterval:          10 * time.Minute,
		KindDiscoveryInterval:  time.Minute,
		MaxConcurrentRolls:     "10%",
		RollProgressDeadline:   10 * time.Minute,
		InitialStatusDelay:     10 * time.Second,
		ResyncPeriod:           10 * time.Hour,
		QPS:                    100,
		Burst:                  200,
		Logger:                 logr.Discard(),
	}
}

// BindFlags binds the options a deployment tunes, with o's current values as
// defaults (start from DefaultOptions).
func (o *Options) BindFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.ControllerName, "controller-name", o.ControllerName, "GatewayClass spec.controllerName berth serves")
	fs.StringVar(&o.Namespace, "controller-namespace", o.Namespace, "berth's own namespace (default from $POD_NAMESPACE)")
	// The old name, kept for existing deployments.
	fs.StringVar(&o.Namespace, "namespace", o.Namespace, "deprecated: use --controller-namespace")
	_ = fs.MarkHidden("namespace")
	fs.StringSliceVar(&o.WatchNamespaces, "watch-namespaces", o.WatchNamespaces, "namespaces to watch (default: all)")
	fs.StringVar(&o.WatchNamespaceSelector, "watch-namespace-selector", o.WatchNamespaceSelector, "label selector of the namespaces whose Gateways berth serves")
	fs.StringVar(&o.Render.XDSHost, "xds-host", o.Render.XDSHost, "DNS name Envoy dials for xDS (default berth-xds.<namespace>.svc)")
	fs.Int32Var(&o.Render.XDSPort, "xds-port", o.Render.XDSPort, "port Envoy dials for xDS (the xDS Service port)")
	fs.StringVar(&o.Render.EnvoyImage, "envoy-image", o.Render.EnvoyImage, "Envoy image")
	fs.StringVar(&o.Render.ShutdownManagerImage, "shutdown-manager-image", o.Render.ShutdownManagerImage, "berth image running the shutdown-manager container")
	o.XDS.BindFlags(fs)
	o.Certs.BindFlags(fs)
	fs.StringVar(&o.MetricsBindAddress, "metrics-bind-address", o.MetricsBindAddress, `Prometheus metrics address ("0" disables)`)
	fs.BoolVar(&o.Profiling, "profiling", o.Profiling, "serve Go profiles (net/http/pprof) under /debug/pprof/ on the metrics address")
	fs.StringVar(&o.HealthProbeBindAddress, "health-probe-bind-address", o.HealthProbeBindAddress, `health probe address ("0" disables)`)
	fs.BoolVar(&o.LeaderElection, "leader-elect", o.LeaderElection, "elect one replica to apply and write status (every replica serves xDS)")
	fs.StringVar(&o.LeaderElectionID, "leader-election-id", o.LeaderElectionID, "name of the leader election Lease in --namespace")
	fs.IntVar(&o.Workers, "workers", o.Workers, "Gateways reconciled concurrently")
	fs.BoolVar(&o.APICompression, "kube-api-compression", o.APICompression, "ask the apiserver for gzip-compressed responses and watch streams (less traffic, more CPU on both sides)")
	fs.DurationVar(&o.SweepInterval, "sweep-interval", o.SweepInterval, "how often inventories without a Gateway are destroyed")
	fs.DurationVar(&o.KindDiscoveryInterval, "kind-discovery-interval", o.KindDiscoveryInterval, "how often kinds whose CRDs were not installed (TCPRoute, TLSRoute, UDPRoute, BackendTLSPolicy, ClientTrafficPolicy, ListenerSet) are looked up again")
	fs.StringVar(&o.MaxConcurrentRolls, "max-concurrent-rolls", o.MaxConcurrentRolls, `Gateways whose data plane may roll (pod template change) at once: a number or a percentage of the Gateways served, at least 1 ("0": unlimited)`)
	fs.DurationVar(&o.RollProgressDeadline, "roll-progress-deadline", o.RollProgressDeadline, "time a roll may take to be fully updated and Available before it is reported stuck (it keeps its slot)")
	fs.DurationVar(&o.InitialStatusDelay, "initial-status-delay", o.InitialStatusDelay, `how long after its creation a new Gateway's first status waits while all it would say is "accepted, data plane on its way" (one status write instead of two when the data plane is ready by then; problems are written at once; 0: at once)`)
}

// complete fills the derived fields and validates.
func (o *Options) complete() error {
	var errs []error
	if o.ControllerName == "" {
		errs = append(errs, errors.New("controller name is empty"))
	}
	if o.Namespace == "" {
		errs = append(errs, errors.New("namespace is empty"))
	}
	if o.Workers <= 0 {
		errs = append(errs, fmt.Errorf("workers must be positive, got %d", o.Workers))
	}
	if o.Profiling && o.MetricsBindAddress == "0" {
		errs = append(errs, errors.New(`profiling is served on the metrics address, which is disabled ("0")`))
	}
	if o.SweepInterval <= 0 {
		errs = append(errs, fmt.Errorf("sweep interval must be positive, got %s", o.SweepInterval))
	}
	if o.KindDiscoveryInterval <= 0 {
		errs = append(errs, fmt.Errorf("kind discovery interval must be positive, got %s", o.KindDiscoveryInterval))
	}
	if _, err := rollbudget.ParseLimit(o.MaxConcurrentRolls); err != nil {
		errs = append(errs, fmt.Errorf("max concurrent rolls: %w", err))
	}
	if o.RollProgressDeadline <= 0 {
		errs = append(errs, fmt.Errorf("roll progress deadline must be positive, got %s", o.RollProgressDeadline))
	}
	if o.InitialStatusDelay < 0 {
		errs = append(errs, fmt.Errorf("initial status delay must not be negative, got %s", o.InitialStatusDelay))
	}
	if o.WatchNamespaceSelector != "" {
		if _, err := labels.Parse(o.WatchNamespaceSelector); err != nil {
			errs = append(errs, fmt.Errorf("watch namespace selector: %w", err))
		}
	}
	for i, ns := range o.WatchNamespaces {
		o.WatchNamespaces[i] = strings.TrimSpace(ns)
	}
	o.Render.ControllerNamespace = o.Namespace
	if o.Render.XDSHost == "" {
		o.Render.XDSHost = "berth-xds." + o.Namespace + ".svc"
	}
	o.Render.TokenAudience = o.XDS.Auth.Audience
	o.Apply.Namespaces = o.WatchNamespaces
	if o.Apply.Logger.GetSink() == nil {
		o.Apply.Logger = o.Logger.WithName("apply")
	}
	o.Certs.Namespace = o.Namespace
	if len(o.Certs.DNSNames) == 0 {
		o.Certs.DNSNames = certs.DNSNames("berth-xds", o.Namespace)
		for _, n := range []string{o.Render.XDSHost, o.Render.XDSServerName} {
			if n != "" && !slices.Contains(o.Certs.DNSNames, n) {
				o.Certs.DNSNames = append(o.Certs.DNSNames, n)
			}
		}
	}
	o.Translate.ControllerName = gwController(o.ControllerName)
	o.Translate.PrivilegedPortOffset = o.Render.PrivilegedPortOffset
	if err := o.Translate.Validate(); err != nil {
		errs = append(errs, err)
	}
	// CABundle is filled at run time; validate with a placeholder.
	ro := o.Render
	ro.CABundle = []byte("placeholder")
	if err := ro.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
