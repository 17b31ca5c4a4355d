package shutdown

import "github.com/spf13/pflag"

// BindFlags binds every option a deployment may tune, with o's current
// values as defaults (start from DefaultOptions; the rendered pod passes no
// flags, so the defaults are the contract).
func (o *Options) BindFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.ListenAddress, "listen-address", o.ListenAddress, "address of the preStop ("+ShutdownReadyPath+") and health ("+HealthPath+") endpoints")
	fs.StringVar(&o.AdminURL, "envoy-admin-url", o.AdminURL, "Envoy's admin API")
	fs.DurationVar(&o.MinDrain, "min-drain", o.MinDrain, "shortest drain after failing Envoy's health check, so load balancers notice")
	fs.DurationVar(&o.MaxDrain, "max-drain", o.MaxDrain, "longest drain; keep it well under the pod's termination grace period")
	fs.DurationVar(&o.PollInterval, "poll-interval", o.PollInterval, "time between two reads of Envoy's connection stats")
	fs.DurationVar(&o.AdminTimeout, "admin-timeout", o.AdminTimeout, "timeout of one Envoy admin call")
	fs.IntVar(&o.AdminFailures, "admin-failures", o.AdminFailures, "consecutive failed admin calls after which Envoy is taken to be gone")
	fs.DurationVar(&o.DrainStartWait, "drain-start-wait", o.DrainStartWait, "after SIGTERM, how long to wait for a preStop request when no drain has started")
	fs.StringSliceVar(&o.IgnoredStatPrefixes, "ignore-stat-prefixes", o.IgnoredStatPrefixes, "HTTP connection manager stat prefixes whose connections do not count")
}
