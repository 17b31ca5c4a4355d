package apply

import (
	"fmt"
	"net/http"
	"sync"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/cli-runtime/pkg/resource"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
)

// clients are the engine's shared clients, built once in New: one HTTP client and one
// rate limiter under everything, one memory-cached discovery and one deferred REST mapper.
type clients struct {
	config     *rest.Config // shared RateLimiter set; copy before changing
	httpClient *http.Client
	dynamic    dynamic.Interface
	discovery  discovery.CachedDiscoveryInterface
	mapper     meta.RESTMapper

	mu           sync.Mutex
	unstructured map[schema.GroupVersion]resource.RESTClient
}

// unstructuredClientForMapping returns the (cached) REST client cli-utils' apply
// tasks use for a mapping. ContentConfig is set before GroupVersion: ContentConfig
// contains GroupVersion, so the other order silently clears it and every apply then
// goes to the wrong path.
func (c *clients) unstructuredClientForMapping(mapping *meta.RESTMapping) (resource.RESTClient, error) {
	gv := mapping.GroupVersionKind.GroupVersion()
	c.mu.Lock()
	defer c.mu.Unlock()
	if rc, ok := c.unstructured[gv]; ok {
		return rc, nil
	}
	cfg := rest.CopyConfig(c.config)
	cfg.APIPath = "/apis"
	if gv.Group == "" {
		cfg.APIPath = "/api"
	}
	cfg.ContentConfig = resource.UnstructuredPlusDefaultContentConfig()
	cfg.GroupVersion = &gv
	rc, err := rest.RESTClientForConfigAndClient(cfg, c.httpClient)
	if err != nil {
		return nil, fmt.Errorf("rest client for %s: %w", gv, err)
	}
	c.unstructured[gv] = rc
	return rc, nil
}

// factory is the kubectl cmdutil.Factory cli-utils' inventory client constructor
// insists on, answering from the shared clients. Built once per Engine.
type factory struct {
	cmdutil.Factory // kubectl's implementation over getter, for anything not overridden
	c               *clients
}

func newFactory(c *clients) *factory {
	return &factory{Factory: cmdutil.NewFactory(getter{c}), c: c}
}

func (f *factory) DynamicClient() (dynamic.Interface, error) { return f.c.dynamic, nil }

func (f *factory) UnstructuredClientForMapping(m *meta.RESTMapping) (resource.RESTClient, error) {
	return f.c.unstructuredClientForMapping(m)
}

// getter implements genericclioptions.RESTClientGetter over the shared clients.
type getter struct{ c *clients }

func (g getter) ToRESTConfig() (*rest.Config, error) { return rest.CopyConfig(g.c.config), nil }
func (g getter) ToDiscoveryClient() (discovery.CachedDiscoveryInterface, error) {
	return g.c.discovery, nil
}
func (g getter) ToRESTMapper() (meta.RESTMapper, error) { return g.c.mapper, nil }
func (g getter) ToRawKubeConfigLoader() clientcmd.ClientConfig {
	return clientcmd.NewDefaultClientConfig(*clientcmdapi.NewConfig(), &clientcmd.ConfigOverrides{})
}
