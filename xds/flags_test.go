package xds_test

import (
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/berth-gateway/berth/xds"
	"github.com/berth-gateway/berth/xds/auth"
	"github.com/berth-gateway/berth/xds/certs"
)

func TestBindFlags(t *testing.T) {
	o := xds.DefaultOptions()
	co := certs.DefaultOptions()
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	o.BindFlags(fs)
	co.BindFlags(fs)
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	if o.Address != xds.DefaultAddress || o.Auth.Audience != auth.DefaultAudience || o.Auth.AllowUnboundTokens || co.Mode != certs.ModeManaged {
		t.Fatalf("defaults changed by binding: %+v %+v", o, co)
	}
	err := fs.Parse([]string{"--xds-address=:19000", "--xds-audience=example/xds", "--xds-allow-unbound-tokens",
		"--xds-token-review-timeout=2s", "--xds-max-streams-per-connection=4", "--xds-tls-mode=External",
		"--xds-tls-secret=mine", "--xds-tls-dns-names=a.example,b.example", "--xds-max-streams-per-identity=7",
		"--xds-max-connections=99", "--xds-max-connections-per-peer=5", "--xds-max-resource-names=11", "--xds-max-resource-name-bytes=1234", "--xds-max-unknown-resource-names=3"})
	if err != nil {
		t.Fatal(err)
	}
	if o.Address != ":19000" || o.Auth.Audience != "example/xds" || !o.Auth.AllowUnboundTokens || o.Auth.ReviewTimeout != 2*time.Second ||
		o.MaxConcurrentStreams != 4 || o.MaxStreamsPerIdentity != 7 || o.MaxConnections != 99 || o.MaxConnectionsPerPeer != 5 ||
		o.MaxResourceNames != 11 || o.MaxResourceNameBytes != 1234 || o.MaxUnknownResourceNames != 3 || co.Mode != certs.ModeExternal || co.SecretName != "mine" || len(co.DNSNames) != 2 {
		t.Fatalf("flags not applied: %+v %+v", o, co)
	}
	if err := fs.Parse([]string{"--xds-tls-mode=Sometimes"}); err == nil {
		t.Fatal("an unknown TLS mode was accepted")
	}
}
