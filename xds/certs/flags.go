package certs

import (
	"fmt"

	"github.com/spf13/pflag"
)

// BindFlags binds the options a deployment tunes to --xds-tls-* flags, with
// o's current values as defaults (start from DefaultOptions). Namespace is
// berth's own and is set by the caller.
func (o *Options) BindFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.SecretName, "xds-tls-secret", o.SecretName, "Secret in berth's namespace holding the xDS CA and serving certificate")
	fs.Var(&o.Mode, "xds-tls-mode", "Managed: berth creates and rotates the Secret; External: the Secret (tls.crt, tls.key, ca.crt) is provided and only read")
	fs.StringSliceVar(&o.DNSNames, "xds-tls-dns-names", o.DNSNames, "DNS names of the serving certificate (Managed mode)")
}

var _ pflag.Value = new(Mode)

// String implements pflag.Value.
func (m *Mode) String() string { return string(*m) }

// Set implements pflag.Value: Managed or External.
func (m *Mode) Set(s string) error {
	switch Mode(s) {
	case ModeManaged, ModeExternal:
		*m = Mode(s)
		return nil
	}
	return fmt.Errorf("unknown mode %q (want %s or %s)", s, ModeManaged, ModeExternal)
}

// Type implements pflag.Value.
func (m *Mode) Type() string { return "mode" }
