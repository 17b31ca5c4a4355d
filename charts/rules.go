package charts

import (
	"bytes"
	"fmt"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/berth-gateway/berth/rbac"
)

// Placeholders stand for the values the chart fills in: Build sees them as
// names and the generated template replaces them with template actions.
const (
	leasePlaceholder  = "BERTH-LEASE-PLACEHOLDER"
	secretPlaceholder = "BERTH-SECRET-PLACEHOLDER"
)

// RulesTemplate returns berth/templates/_rules.tpl: package rbac's rules as
// named Helm templates (berth.rules.cluster, berth.rules.watched,
// berth.rules.self.managed, berth.rules.self.external), so the chart
// installs exactly what `berth rbac` prints.
func RulesTemplate() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString("{{- /* Code generated from package rbac by `go test ./charts -update`. DO NOT EDIT. */ -}}\n")
	for _, d := range []struct {
		name  string
		scope rbac.Scope
		ext   bool
	}{
		{"berth.rules.cluster", rbac.ScopeCluster, false},
		{"berth.rules.watched", rbac.ScopeWatched, false},
		{"berth.rules.self.managed", rbac.ScopeSelf, false},
		{"berth.rules.self.external", rbac.ScopeSelf, true},
	} {
		o := rbac.DefaultOptions()
		o.LeaderElectionID, o.XDSTLSSecret, o.ExternalTLS = leasePlaceholder, secretPlaceholder, d.ext
		data, err := yaml.Marshal(rbac.Rules(d.scope, o))
		if err != nil {
			return nil, fmt.Errorf("marshal %s: %w", d.name, err)
		}
		s := strings.NewReplacer(
			leasePlaceholder, "{{ .Values.leaderElection.id }}",
			secretPlaceholder, "{{ .Values.xds.tls.secretName }}",
		).Replace(string(data))
		fmt.Fprintf(&buf, "{{- define %q -}}\n%s{{- end }}\n", d.name, s)
	}
	return buf.Bytes(), nil
}
