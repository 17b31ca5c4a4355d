package cli

import (
	"github.com/spf13/pflag"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// kubeFlags are the cluster connection flags of the commands that read the
// cluster (wait, diff), as kubectl names them.
type kubeFlags struct {
	kubeconfig string
	context    string
	namespace  string
}

func (f *kubeFlags) bind(fs *pflag.FlagSet, namespaceUsage string) {
	fs.StringVarP(&f.namespace, "namespace", "n", "", namespaceUsage)
	fs.StringVar(&f.kubeconfig, "kubeconfig", "", "kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)")
	fs.StringVar(&f.context, "context", "", "kubeconfig context (default: the current one)")
}

// config loads the client configuration and the namespace to use: -n, else
// the kubeconfig context's (unless allNamespaces). Errors are usage errors.
func (f *kubeFlags) config(allNamespaces bool) (*rest.Config, string, error) {
	loader := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
		&clientcmd.ClientConfigLoadingRules{ExplicitPath: f.kubeconfig, Precedence: clientcmd.NewDefaultClientConfigLoadingRules().Precedence},
		&clientcmd.ConfigOverrides{CurrentContext: f.context})
	cfg, err := loader.ClientConfig()
	if err != nil {
		return nil, "", usageErrorf("kubeconfig: %w", err)
	}
	ns := f.namespace
	if ns == "" && !allNamespaces {
		if ns, _, err = loader.Namespace(); err != nil {
			return nil, "", usageErrorf("kubeconfig namespace: %w", err)
		}
	}
	return cfg, ns, nil
}
