// Package kubecti18n keeps kubectl's message catalogs from being loaded.
//
// berth links kubectl packages through sigs.k8s.io/cli-utils (the apply
// engine); several of them translate their help texts with i18n.T in
// package variables, so the first of them to initialize unpacks kubectl's
// gettext catalogs (about 4 MB allocated and 14,000 allocations on every
// start of every berth command, for help texts berth never prints).
// Importing this package first (it depends only on kubectl's i18n
// package, and Go initializes a ready package with a lower import path
// first) makes every i18n.T return its English text unchanged, as kubectl
// does without a catalog for the user's language.
package kubecti18n

import "k8s.io/kubectl/pkg/util/i18n"

func init() {
	if err := i18n.SetLoadTranslationsFunc(func() error { return nil }); err != nil {
		panic(err)
	}
}
