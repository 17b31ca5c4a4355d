package e2e

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/grpc"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"

	"github.com/berth-gateway/berth/internal/testenv"
	"github.com/berth-gateway/berth/render"
	"github.com/berth-gateway/berth/xds/xdstest"
)

// proxyConfig is what a rendered Envoy pod of one Gateway knows when it
// starts: the bundle's ConfigMap (bootstrap and CA), its own pod, and the
// projected token volume's audience.
type proxyConfig struct {
	CA []byte
	// From the bootstrap: the node cluster, the xDS host and port Envoy
	// dials, the TLS server name (SNI and required SAN), and whether ADS is
	// delta.
	NodeCluster string
	XDSHost     string
	XDSPort     int
	ServerName  string
	Delta       bool
	// Pod is a Ready Envoy pod of the Gateway; its name is Envoy's node id
	// (--service-node from the pod name).
	Pod *corev1.Pod
	// Audience and ExpirationSeconds of the pod's projected token volume.
	Audience          string
	ExpirationSeconds int64
}

// readProxyConfig reads Gateway ns/gw's bundle as its Envoy would see it.
func readProxyConfig(ctx context.Context, env *testenv.Env, ns, gw string) (*proxyConfig, error) {
	name := render.ProxyName(ns, gw)
	cm, err := env.Client.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("bundle ConfigMap: %w", err)
	}
	pc := &proxyConfig{CA: []byte(cm.Data[render.ConfigKeyCA])}
	if len(pc.CA) == 0 {
		return nil, fmt.Errorf("ConfigMap %s/%s has no %s", ns, name, render.ConfigKeyCA)
	}
	if err := pc.parseBootstrap(cm.Data[render.ConfigKeyBootstrap]); err != nil {
		return nil, fmt.Errorf("ConfigMap %s/%s %s: %w", ns, name, render.ConfigKeyBootstrap, err)
	}
	pods, err := env.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{
		LabelSelector: labels.SelectorFromSet(render.SelectorLabels(ns, gw)).String(),
	})
	if err != nil {
		return nil, err
	}
	for i := range pods.Items {
		if podReady(&pods.Items[i]) && pods.Items[i].DeletionTimestamp == nil {
			pc.Pod = &pods.Items[i]
			break
		}
	}
	if pc.Pod == nil {
		return nil, fmt.Errorf("no Ready Envoy pod of Gateway %s/%s among %d", ns, gw, len(pods.Items))
	}
	for _, v := range pc.Pod.Spec.Volumes {
		if v.Projected == nil {
			continue
		}
		for _, s := range v.Projected.Sources {
			if s.ServiceAccountToken != nil {
				pc.Audience = s.ServiceAccountToken.Audience
				if s.ServiceAccountToken.ExpirationSeconds != nil {
					pc.ExpirationSeconds = *s.ServiceAccountToken.ExpirationSeconds
				}
			}
		}
	}
	if pc.Audience == "" {
		return nil, fmt.Errorf("pod %s/%s has no projected ServiceAccount token with an audience", ns, pc.Pod.Name)
	}
	return pc, nil
}

// parseBootstrap reads the fields a probe needs from Envoy's bootstrap.
func (pc *proxyConfig) parseBootstrap(data string) error {
	var b struct {
		Node struct {
			Cluster string `json:"cluster"`
		} `json:"node"`
		DynamicResources struct {
			ADSConfig struct {
				APIType string `json:"api_type"`
			} `json:"ads_config"`
		} `json:"dynamic_resources"`
		StaticResources struct {
			Clusters []struct {
				Name           string `json:"name"`
				LoadAssignment struct {
					Endpoints []struct {
						LBEndpoints []struct {
							Endpoint struct {
								Address struct {
									SocketAddress struct {
										Address   string `json:"address"`
										PortValue int    `json:"port_value"`
									} `json:"socket_address"`
								} `json:"address"`
							} `json:"endpoint"`
						} `json:"lb_endpoints"`
					} `json:"endpoints"`
				} `json:"load_assignment"`
				TransportSocket struct {
					TypedConfig struct {
						SNI string `json:"sni"`
					} `json:"typed_config"`
				} `json:"transport_socket"`
			} `json:"clusters"`
		} `json:"static_resources"`
	}
	if err := yaml.Unmarshal([]byte(data), &b); err != nil {
		return err
	}
	pc.NodeCluster = b.Node.Cluster
	pc.Delta = b.DynamicResources.ADSConfig.APIType == "DELTA_GRPC"
	for _, c := range b.StaticResources.Clusters {
		if c.Name != render.XDSClusterName {
			continue
		}
		if len(c.LoadAssignment.Endpoints) != 1 || len(c.LoadAssignment.Endpoints[0].LBEndpoints) != 1 {
			return fmt.Errorf("cluster %s: want one endpoint", c.Name)
		}
		sa := c.LoadAssignment.Endpoints[0].LBEndpoints[0].Endpoint.Address.SocketAddress
		pc.XDSHost, pc.XDSPort = sa.Address, sa.PortValue
		pc.ServerName = c.TransportSocket.TypedConfig.SNI
	}
	switch {
	case pc.NodeCluster == "":
		return fmt.Errorf("no node.cluster")
	case pc.XDSHost == "" || pc.XDSPort == 0:
		return fmt.Errorf("no %s endpoint", render.XDSClusterName)
	case pc.ServerName == "":
		return fmt.Errorf("no sni on the %s transport socket", render.XDSClusterName)
	}
	return nil
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// podToken requests what the kubelet projects into pod: a token of its
// ServiceAccount for audience, bound to the pod (kind, name and uid).
func podToken(ctx context.Context, env *testenv.Env, pod *corev1.Pod, audience string, seconds int64) (string, error) {
	if seconds == 0 {
		seconds = 3600
	}
	tr, err := env.Client.CoreV1().ServiceAccounts(pod.Namespace).CreateToken(ctx, pod.Spec.ServiceAccountName, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{
			Audiences:         []string{audience},
			ExpirationSeconds: &seconds,
			BoundObjectRef:    &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("token for pod %s/%s (ServiceAccount %s): %w", pod.Namespace, pod.Name, pod.Spec.ServiceAccountName, err)
	}
	return tr.Status.Token, nil
}

// dialXDS connects to the controller's xDS server at addr (its real
// loopback address: the bootstrap's host is a cluster DNS name that does
// not resolve here) with TLS verified against ca for serverName, as
// Envoy's upstream TLS context does.
func dialXDS(addr string, ca []byte, serverName string) (*grpc.ClientConn, error) {
	creds, err := xdstest.TLS(ca, serverName)
	if err != nil {
		return nil, err
	}
	return grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
}

// startProbe opens one ADS stream like pc's Envoy, presenting token and
// claiming node (id, cluster).
func startProbe(ctx context.Context, conn *grpc.ClientConn, pc *proxyConfig, token, nodeID, nodeCluster string) (*xdstest.Client, error) {
	return xdstest.Start(ctx, conn, xdstest.Options{
		Token: token,
		Node:  &corev3.Node{Id: nodeID, Cluster: nodeCluster},
		Delta: pc.Delta,
	})
}

// expectedXDS is what a Gateway's proxy must hold.
type expectedXDS struct {
	Port         uint32
	Domain       string
	PathPrefix   string
	EndpointIPs  []string // sorted
	EndpointPort uint32
}

// checkXDS explains how s differs from e ("" when it matches): exactly one
// listener, on e.Port; a virtual host for e.Domain with a route for
// e.PathPrefix whose cluster's endpoints are exactly e.EndpointIPs.
func checkXDS(s xdstest.State, e expectedXDS) string {
	ls := s.Resources[resourcev3.ListenerType]
	if len(ls) != 1 {
		return fmt.Sprintf("%d listeners (%s), want 1", len(ls), names(ls))
	}
	for _, m := range ls {
		if p := m.(*listenerv3.Listener).GetAddress().GetSocketAddress().GetPortValue(); p != e.Port {
			return fmt.Sprintf("listener port %d, want %d", p, e.Port)
		}
	}
	var cluster string
	for _, m := range s.Resources[resourcev3.RouteType] {
		for _, vh := range m.(*routev3.RouteConfiguration).GetVirtualHosts() {
			if !slices.Contains(vh.GetDomains(), e.Domain) {
				continue
			}
			for _, r := range vh.GetRoutes() {
				if p := r.GetMatch().GetPathSeparatedPrefix(); p == e.PathPrefix || r.GetMatch().GetPrefix() == e.PathPrefix {
					cluster = r.GetRoute().GetCluster()
				}
			}
		}
	}
	if cluster == "" {
		return fmt.Sprintf("no route for %s%s (domains %v)", e.Domain, e.PathPrefix, keys(xdstest.Domains(s)))
	}
	if _, ok := s.Resources[resourcev3.ClusterType][cluster]; !ok {
		return fmt.Sprintf("route's cluster %s not among clusters %s", cluster, names(s.Resources[resourcev3.ClusterType]))
	}
	cla, ok := s.Resources[resourcev3.EndpointType][cluster].(*endpointv3.ClusterLoadAssignment)
	if !ok {
		return fmt.Sprintf("no endpoints for cluster %s", cluster)
	}
	var ips []string
	for _, lle := range cla.GetEndpoints() {
		for _, ep := range lle.GetLbEndpoints() {
			sa := ep.GetEndpoint().GetAddress().GetSocketAddress()
			if sa.GetPortValue() != e.EndpointPort {
				return fmt.Sprintf("endpoint %s port %d, want %d", sa.GetAddress(), sa.GetPortValue(), e.EndpointPort)
			}
			ips = append(ips, sa.GetAddress())
		}
	}
	sort.Strings(ips)
	if !slices.Equal(ips, e.EndpointIPs) {
		return fmt.Sprintf("cluster %s endpoints %v, want %v", cluster, ips, e.EndpointIPs)
	}
	return ""
}

func names[T any](m map[string]T) string { return strings.Join(keys(m), ",") }

func keys[T any](m map[string]T) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// backendIPs are the IPs of the Ready pods matching selector in ns.
func backendIPs(ctx context.Context, env *testenv.Env, ns, selector string) ([]string, error) {
	pods, err := env.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return nil, err
	}
	var ips []string
	for i := range pods.Items {
		if podReady(&pods.Items[i]) && pods.Items[i].Status.PodIP != "" {
			ips = append(ips, pods.Items[i].Status.PodIP)
		}
	}
	sort.Strings(ips)
	return ips, nil
}

// probeTimeout bounds how long a probe waits for its configuration.
const probeTimeout = 30 * time.Second
