// Package certs owns the xDS server's TLS material: a CA and a serving
// certificate, kept in one Secret in berth's namespace so every replica
// serves the same certificate and every bundle trusts the same CA.
//
// In ModeManaged (the default) berth creates the Secret if it is absent
// (create-if-absent; a replica that loses the creation race adopts the
// winner's Secret), renews the serving certificate before it expires, and
// rotates the CA well before it expires: a new CA first joins the trust
// bundle (ca.crt) and only signs after Options.CAOverlap, so every proxy has
// had time to receive a bundle trusting it; an expired CA leaves the bundle.
// Concurrent renewals by several replicas are settled by the Secret's
// resourceVersion (the loser re-reads and adopts). In ModeExternal the Secret
// comes from elsewhere (the chart, cert-manager) and is only read.
//
// Either way the Manager re-reads the Secret on every change (watch) and on
// a timer, and GetCertificate returns the current certificate, so a
// tls.Config{GetCertificate: m.GetCertificate} picks up a renewal without a
// restart. CABundle is the PEM the render options put into every bundle as
// ca.crt; OnCABundleChange says when it changed.
//
//	m, err := certs.New(clientset.CoreV1(), opts)
//	if err := m.Ensure(ctx); err != nil { ... }   // first certificate, blocking
//	go m.Run(ctx)                                  // renew and reload until ctx ends
//	tlsConfig := &tls.Config{GetCertificate: m.GetCertificate}
//
// Secret keys: tls.crt, tls.key (serving certificate and key), ca.crt (trust
// bundle, one or more CA certificates, oldest first) and, in ModeManaged,
// ca.key (the CAs' private keys in the order of ca.crt). The Secret never
// leaves berth's namespace; tenants receive ca.crt only.
package certs
