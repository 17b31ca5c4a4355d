// Package cli is the berth command line: one new…Cmd function per
// subcommand, each binding its own flags and calling the packages that do
// the work (render, xds/translate, rbac, controller, internal/readiness).
// It owns flag names, input reading, output formats and exit statuses; it
// must hold no logic those packages could own.
package cli
