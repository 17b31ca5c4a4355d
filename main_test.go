package main

import (
	"testing"

	"github.com/chai2010/gettext-go"
	"k8s.io/kubectl/pkg/util/i18n"
)

// TestKubectlCatalogsNotLoaded checks that internal/kubecti18n initializes
// before the kubectl packages that translate help texts at start: had
// kubectl's catalogs been loaded, its loader would have set the gettext
// domain to "k8s" (and unpacked the catalogs on every berth start).
func TestKubectlCatalogsNotLoaded(t *testing.T) {
	if d := gettext.SetDomain(""); d == "k8s" {
		t.Errorf("gettext domain %q: kubectl's catalogs were loaded", d)
	}
	const msg = "Print the supported API resources on the server"
	if got := i18n.T(msg); got != msg {
		t.Errorf("i18n.T(%q) = %q", msg, got)
	}
}
