package certs

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/utils/clock"
)

// Mode says who owns the Secret.
type Mode string

const (
	// ModeManaged: berth creates the Secret if absent, renews and rotates it.
	ModeManaged Mode = "Managed"
	// ModeExternal: the Secret is provided (tls.crt, tls.key, ca.crt) and
	// only read.
	ModeExternal Mode = "External"
)

// Secret data keys.
const (
	KeyTLSCert = corev1.TLSCertKey       // tls.crt: serving certificate (chain)
	KeyTLSKey  = corev1.TLSPrivateKeyKey // tls.key: serving key
	KeyCACert  = "ca.crt"                // trust bundle for proxies
	KeyCAKey   = "ca.key"                // CA keys, ModeManaged only
)

// DefaultSecretName is the Secret holding the xDS TLS material.
const DefaultSecretName = "berth-xds-tls"

// DNSNames returns the names a Service <service> in <namespace> is reached
// by, for Options.DNSNames.
func DNSNames(service, namespace string) []string {
	return []string{
		service + "." + namespace + ".svc",
		service + "." + namespace + ".svc.cluster.local",
		service + "." + namespace,
		service,
	}
}

// Options configure a Manager. Start from DefaultOptions.
type Options struct {
	// Namespace of the Secret (berth's namespace). Required.
	Namespace string
	// SecretName of the Secret.
	SecretName string
	// Mode: ModeManaged or ModeExternal.
	Mode Mode
	// DNSNames of the serving certificate (ModeManaged); the first is also
	// its common name. Required in ModeManaged.
	DNSNames []string
	// CAValidity is the lifetime of a new CA.
	CAValidity time.Duration
	// CARenewBefore: a new CA is created when the newest has less left.
	CARenewBefore time.Duration
	// CAOverlap is how long a new CA is only trusted (in ca.crt) before it
	// signs the serving certificate, so proxies receive it first.
	CAOverlap time.Duration
	// ServingValidity is the lifetime of a serving certificate (capped by
	// its CA's).
	ServingValidity time.Duration
	// ServingRenewBefore: the serving certificate is renewed when it has less
	// left.
	ServingRenewBefore time.Duration
	// ResyncInterval is how often the Secret is re-read and renewal checked
	// besides watch events.
	ResyncInterval time.Duration
	// OnCABundleChange, when set, is called with the new ca.crt after it
	// changed (not for the first load). Must not block.
	OnCABundleChange func(caPEM []byte)
	// Logger (nil: no logs).
	Logger *zap.Logger
	// Clock (nil: the real clock).
	Clock clock.PassiveClock
}

// DefaultOptions returns the defaults: a 3-year CA rotated a year before it
// expires with a week of overlap, and 30-day serving certificates renewed 10
// days before they expire.
func DefaultOptions() Options {
	return Options{
		SecretName:         DefaultSecretName,
		Mode:               ModeManaged,
		CAValidity:         3 * 365 * 24 * time.Hour,
		CARenewBefore:      365 * 24 * time.Hour,
		CAOverlap:          7 * 24 * time.Hour,
		ServingValidity:    30 * 24 * time.Hour,
		ServingRenewBefore: 10 * 24 * time.Hour,
		ResyncInterval:     time.Minute,
	}
}

// loaded is what GetCertificate and CABundle serve.
type loaded struct {
	cert     *tls.Certificate
	caPEM    []byte
	notAfter time.Time
}

// Manager keeps the current serving certificate and trust bundle.
type Manager struct {
	secrets corev1client.SecretsGetter
	opts    Options
	log     *zap.Logger
	current atomic.Pointer[loaded]
	syncMu  sync.Mutex
}

// New validates opts and returns a Manager; nothing is loaded until Ensure.
func New(secrets corev1client.SecretsGetter, opts Options) (*Manager, error) {
	d := DefaultOptions()
	if opts.SecretName == "" {
		opts.SecretName = d.SecretName
	}
	if opts.Mode == "" {
		opts.Mode = d.Mode
	}
	for _, f := range []struct {
		v   *time.Duration
		def time.Duration
	}{{&opts.CAValidity, d.CAValidity}, {&opts.CARenewBefore, d.CARenewBefore}, {&opts.CAOverlap, d.CAOverlap},
		{&opts.ServingValidity, d.ServingValidity}, {&opts.ServingRenewBefore, d.ServingRenewBefore},
		{&opts.ResyncInterval, d.ResyncInterval}} {
		if *f.v <= 0 {
			*f.v = f.def
		}
	}
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	switch {
	case opts.Namespace == "":
		return nil, errors.New("xds certs: namespace is required")
	case opts.Mode != ModeManaged && opts.Mode != ModeExternal:
		return nil, fmt.Errorf("xds certs: unknown mode %q", opts.Mode)
	case opts.Mode == ModeManaged && len(opts.DNSNames) == 0:
		return nil, errors.New("xds certs: DNS names are required in Managed mode")
	case opts.Mode == ModeManaged && opts.CARenewBefore+opts.CAOverlap >= opts.CAValidity:
		return nil, errors.New("xds certs: CA renew-before plus overlap must be shorter than the CA validity")
	case opts.Mode == ModeManaged && opts.ServingRenewBefore >= opts.ServingValidity:
		return nil, errors.New("xds certs: serving renew-before must be shorter than the serving validity")
	}
	return &Manager{secrets: secrets, opts: opts, log: opts.Logger.With(zap.String("secret", opts.Namespace+"/"+opts.SecretName))}, nil
}

// GetCertificate returns the current serving certificate; use it as
// tls.Config.GetCertificate.
func (m *Manager) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	l := m.current.Load()
	if l == nil {
		return nil, errors.New("xds certs: no serving certificate loaded yet")
	}
	return l.cert, nil
}

// CABundle returns the PEM trust bundle (ca.crt), nil before Ensure.
func (m *Manager) CABundle() []byte {
	if l := m.current.Load(); l != nil {
		return bytes.Clone(l.caPEM)
	}
	return nil
}

// Ensure brings the Secret up to date (ModeManaged) and loads it. It is what
// Run does on every event; call it once before serving.
func (m *Manager) Ensure(ctx context.Context) error {
	m.syncMu.Lock()
	defer m.syncMu.Unlock()
	var err error
	for range 5 {
		if err = m.syncOnce(ctx); !apierrors.IsConflict(err) && !apierrors.IsAlreadyExists(err) {
			return err
		}
		m.log.Debug("lost a race on the Secret; re-reading", zap.Error(err))
	}
	return err
}

func (m *Manager) syncOnce(ctx context.Context) error {
	name := m.opts.Namespace + "/" + m.opts.SecretName
	client := m.secrets.Secrets(m.opts.Namespace)
	sec, err := client.Get(ctx, m.opts.SecretName, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err) && m.opts.Mode == ModeManaged:
		mat, err := m.plan(nil, m.opts.Clock.Now())
		if err != nil {
			return err
		}
		sec, err = m.encode(mat)
		if err != nil {
			return err
		}
		created, err := client.Create(ctx, sec, metav1.CreateOptions{})
		if err != nil {
			return fmt.Errorf("create Secret %s: %w", name, err)
		}
		m.log.Info("created xDS CA and serving certificate")
		return m.load(created)
	case err != nil:
		return fmt.Errorf("get Secret %s: %w", name, err)
	}
	if m.opts.Mode == ModeExternal {
		return m.load(sec)
	}
	mat, perr := decode(sec, true)
	if perr != nil {
		m.log.Warn("Secret is unusable; regenerating", zap.Error(perr))
		mat = nil
	}
	next, err := m.plan(mat, m.opts.Clock.Now())
	if err != nil {
		return err
	}
	if next != mat {
		upd, err := m.encode(next)
		if err != nil {
			return err
		}
		sec = sec.DeepCopy()
		sec.Data = upd.Data
		sec.Type = upd.Type
		sec, err = client.Update(ctx, sec, metav1.UpdateOptions{})
		if err != nil {
			return fmt.Errorf("update Secret %s: %w", name, err)
		}
		m.log.Info("renewed xDS TLS material", zap.Time("servingNotAfter", next.serving.cert.NotAfter), zap.Int("cas", len(next.cas)))
	}
	return m.load(sec)
}

// plan returns mat unchanged when nothing is due, else new material: a
// fresh CA and serving certificate when there is nothing usable, a new CA
// when the newest nears expiry, expired CAs dropped, and a new serving
// certificate when it nears expiry, names changed, or the signing CA changed.
func (m *Manager) plan(mat *material, now time.Time) (*material, error) {
	o := m.opts
	next := &material{}
	if mat != nil {
		for _, ca := range mat.cas {
			if now.Before(ca.cert.NotAfter) && ca.key != nil {
				next.cas = append(next.cas, ca)
			}
		}
		next.serving = mat.serving
	}
	changed := mat == nil || len(next.cas) != len(mat.cas)
	if len(next.cas) == 0 || next.cas[len(next.cas)-1].cert.NotAfter.Sub(now) < o.CARenewBefore {
		ca, err := newCA("berth xDS CA", now, o.CAValidity)
		if err != nil {
			return nil, err
		}
		next.cas = append(next.cas, ca)
		changed = true
	}
	signer := signerOf(next.cas, now, o.CAOverlap)
	s := next.serving.cert
	if s == nil || s.NotAfter.Sub(now) < o.ServingRenewBefore || !slices.Equal(s.DNSNames, o.DNSNames) ||
		s.CheckSignatureFrom(signer.cert) != nil || !matches(s, next.serving.key) {
		sv, err := newServing(signer, o.DNSNames, now, o.ServingValidity)
		if err != nil {
			return nil, err
		}
		next.serving = sv
		next.servingChainPEM, next.servingKeyPEM = nil, nil
		changed = true
	}
	if !changed {
		return mat, nil
	}
	return next, nil
}

// signerOf is the newest CA that has been trusted for at least overlap, or
// the oldest when none has (a fresh install has one CA, which signs at once).
func signerOf(cas []keyPair, now time.Time, overlap time.Duration) keyPair {
	for i := len(cas) - 1; i >= 0; i-- {
		if !now.Before(cas[i].cert.NotBefore.Add(backdate).Add(overlap)) {
			return cas[i]
		}
	}
	return cas[0]
}

func (m *Manager) encode(mat *material) (*corev1.Secret, error) {
	var caKeys bytes.Buffer
	for _, ca := range mat.cas {
		k, err := keyPEM(ca.key)
		if err != nil {
			return nil, err
		}
		caKeys.Write(k)
	}
	chain, key := mat.servingChainPEM, mat.servingKeyPEM
	if chain == nil {
		chain = certPEM(mat.serving.cert)
		var err error
		if key, err = keyPEM(mat.serving.key); err != nil {
			return nil, err
		}
	}
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name: m.opts.SecretName, Namespace: m.opts.Namespace,
			Labels: map[string]string{"app.kubernetes.io/managed-by": "berth", "app.kubernetes.io/component": "xds-tls"},
		},
		Type: corev1.SecretTypeTLS,
		Data: map[string][]byte{KeyTLSCert: chain, KeyTLSKey: key, KeyCACert: mat.bundlePEM(), KeyCAKey: caKeys.Bytes()},
	}, nil
}

// decode parses a Secret; withCAKeys requires ca.key to pair with ca.crt.
func decode(sec *corev1.Secret, withCAKeys bool) (*material, error) {
	mat := &material{servingChainPEM: sec.Data[KeyTLSCert], servingKeyPEM: sec.Data[KeyTLSKey]}
	cas, err := parseCerts(sec.Data[KeyCACert])
	if err != nil {
		return nil, fmt.Errorf("%s: %w", KeyCACert, err)
	}
	if withCAKeys {
		keys, err := parseKeys(sec.Data[KeyCAKey])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", KeyCAKey, err)
		}
		if len(keys) != len(cas) {
			return nil, fmt.Errorf("%s has %d keys for %d certificates in %s", KeyCAKey, len(keys), len(cas), KeyCACert)
		}
		for i := range cas {
			if !matches(cas[i], keys[i]) {
				return nil, fmt.Errorf("%s key %d does not match its certificate", KeyCAKey, i)
			}
			mat.cas = append(mat.cas, keyPair{cert: cas[i], key: keys[i]})
		}
	} else {
		for _, c := range cas {
			mat.cas = append(mat.cas, keyPair{cert: c})
		}
	}
	chain, err := parseCerts(mat.servingChainPEM)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", KeyTLSCert, err)
	}
	keys, err := parseKeys(mat.servingKeyPEM)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", KeyTLSKey, err)
	}
	if !matches(chain[0], keys[0]) {
		return nil, fmt.Errorf("%s does not match %s", KeyTLSKey, KeyTLSCert)
	}
	mat.serving = keyPair{cert: chain[0], key: keys[0]}
	return mat, nil
}

// load makes the Secret's content current.
func (m *Manager) load(sec *corev1.Secret) error {
	mat, err := decode(sec, false)
	if err != nil {
		return fmt.Errorf("load Secret %s/%s: %w", sec.Namespace, sec.Name, err)
	}
	cert, err := tls.X509KeyPair(mat.servingChainPEM, mat.servingKeyPEM)
	if err != nil {
		return fmt.Errorf("load Secret %s/%s: %w", sec.Namespace, sec.Name, err)
	}
	caPEM := bytes.Clone(sec.Data[KeyCACert])
	prev := m.current.Swap(&loaded{cert: &cert, caPEM: caPEM, notAfter: mat.serving.cert.NotAfter})
	if prev != nil && !bytes.Equal(prev.caPEM, caPEM) && m.opts.OnCABundleChange != nil {
		m.opts.OnCABundleChange(bytes.Clone(caPEM))
	}
	return nil
}

// Run keeps the material current until ctx ends: it syncs until the first
// success (retrying with backoff; call Ensure before to block on it), then
// re-syncs on every change of the Secret and every ResyncInterval, and logs
// (never exits on) transient errors.
func (m *Manager) Run(ctx context.Context) error {
	for backoff := time.Second; m.current.Load() == nil; backoff = min(2*backoff, 30*time.Second) {
		err := m.Ensure(ctx)
		if err == nil {
			break
		}
		m.log.Error("xDS TLS material not available yet", zap.Error(err))
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
	}
	tick := time.NewTicker(m.opts.ResyncInterval)
	defer tick.Stop()
	for {
		events := m.watch(ctx)
	drain:
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-tick.C:
			case _, ok := <-events:
				if !ok {
					break drain // watch ended: re-establish
				}
			}
			if err := m.Ensure(ctx); err != nil && ctx.Err() == nil {
				m.log.Error("xDS TLS material sync failed", zap.Error(err))
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
}

// watch returns the Secret's watch events, or a closed channel when the
// watch cannot be started (Run retries).
func (m *Manager) watch(ctx context.Context) <-chan watch.Event {
	w, err := m.secrets.Secrets(m.opts.Namespace).Watch(ctx, metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector("metadata.name", m.opts.SecretName).String(),
	})
	if err != nil {
		m.log.Warn("watch of the xDS TLS Secret failed", zap.Error(err))
		ch := make(chan watch.Event)
		close(ch)
		return ch
	}
	out := make(chan watch.Event)
	go func() {
		defer close(out)
		defer w.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-w.ResultChan():
				if !ok {
					return
				}
				select {
				case out <- ev:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out
}

// Start implements controller-runtime's manager.Runnable (it is Run).
func (m *Manager) Start(ctx context.Context) error { return m.Run(ctx) }

// NeedLeaderElection is false: every replica serves xDS, so every replica
// needs the certificate.
func (m *Manager) NeedLeaderElection() bool { return false }
