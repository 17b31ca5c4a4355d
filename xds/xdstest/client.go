// Package xdstest is a small ADS client for tests and benchmarks of the xDS
// server: it opens one stream (state-of-the-world or delta), subscribes to
// every requested type with the wildcard, ACKs every response and records
// what it holds. It is what an Envoy would do, minus Envoy.
package xdstest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"sync"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoverygrpc "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	cachetypes "github.com/envoyproxy/go-control-plane/pkg/cache/types"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// AllTypes are the types a Gateway proxy subscribes to.
var AllTypes = []string{resourcev3.ListenerType, resourcev3.RouteType, resourcev3.ClusterType,
	resourcev3.EndpointType, resourcev3.SecretType}

// TLS returns client transport credentials trusting caPEM for serverName.
func TLS(caPEM []byte, serverName string) (credentials.TransportCredentials, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, errors.New("xdstest: no certificate in the CA bundle")
	}
	return credentials.NewTLS(&tls.Config{RootCAs: pool, ServerName: serverName, MinVersion: tls.VersionTLS12}), nil
}

// Options describe one stream.
type Options struct {
	// Token, when set, is sent as "authorization: Bearer <token>".
	Token string
	// Node is sent on the first request (nil: no node).
	Node *corev3.Node
	// Delta selects the incremental protocol.
	Delta bool
	// Types to subscribe to (nil: AllTypes).
	Types []string
}

// State is what a client holds.
type State struct {
	// Resources by type URL and name.
	Resources map[string]map[string]proto.Message
	// Versions by type URL (sotw version_info or delta system_version_info).
	Versions map[string]string
	// Responses counts responses received.
	Responses int
}

// Client is one ADS stream.
type Client struct {
	mu      sync.Mutex
	state   State
	changed chan struct{} // closed and replaced on every change
	done    chan struct{}
	err     error
}

// Start opens the stream and subscribes; the stream lives until ctx ends or
// the server ends it (see Done and Err).
func Start(ctx context.Context, conn grpc.ClientConnInterface, o Options) (*Client, error) {
	if o.Token != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+o.Token)
	}
	if o.Types == nil {
		o.Types = AllTypes
	}
	c := &Client{
		state:   State{Resources: map[string]map[string]proto.Message{}, Versions: map[string]string{}},
		changed: make(chan struct{}),
		done:    make(chan struct{}),
	}
	ads := discoverygrpc.NewAggregatedDiscoveryServiceClient(conn)
	if o.Delta {
		s, err := ads.DeltaAggregatedResources(ctx)
		if err != nil {
			return nil, err
		}
		for i, t := range o.Types {
			req := &discoverygrpc.DeltaDiscoveryRequest{TypeUrl: t, ResourceNamesSubscribe: []string{"*"}}
			if i == 0 {
				req.Node = o.Node
			}
			if err := s.Send(req); err != nil {
				break // refused: Recv reports the status
			}
		}
		go c.runDelta(s)
		return c, nil
	}
	s, err := ads.StreamAggregatedResources(ctx)
	if err != nil {
		return nil, err
	}
	for i, t := range o.Types {
		// No names: the legacy wildcard, which go-control-plane's snapshot
		// cache answers with every resource of the type in ADS mode
		// (it does not resolve an explicit "*" for state-of-the-world).
		req := &discoverygrpc.DiscoveryRequest{TypeUrl: t}
		if i == 0 {
			req.Node = o.Node
		}
		if err := s.Send(req); err != nil {
			break // refused: Recv reports the status
		}
	}
	go c.runSotw(s)
	return c, nil
}

func (c *Client) runSotw(s discoverygrpc.AggregatedDiscoveryService_StreamAggregatedResourcesClient) {
	for {
		resp, err := s.Recv()
		if err != nil {
			c.finish(err)
			return
		}
		set := map[string]proto.Message{}
		for _, a := range resp.GetResources() {
			m, name, err := decode(a)
			if err != nil {
				c.finish(err)
				return
			}
			set[name] = m
		}
		c.update(func(st *State) {
			st.Resources[resp.GetTypeUrl()] = set
			st.Versions[resp.GetTypeUrl()] = resp.GetVersionInfo()
		})
		if err := s.Send(&discoverygrpc.DiscoveryRequest{
			TypeUrl:     resp.GetTypeUrl(),
			VersionInfo: resp.GetVersionInfo(), ResponseNonce: resp.GetNonce(),
		}); err != nil {
			c.finish(err)
			return
		}
	}
}

func (c *Client) runDelta(s discoverygrpc.AggregatedDiscoveryService_DeltaAggregatedResourcesClient) {
	for {
		resp, err := s.Recv()
		if err != nil {
			c.finish(err)
			return
		}
		added := map[string]proto.Message{}
		for _, r := range resp.GetResources() {
			m, _, err := decode(r.GetResource())
			if err != nil {
				c.finish(err)
				return
			}
			added[r.GetName()] = m
		}
		c.update(func(st *State) {
			t := resp.GetTypeUrl()
			if st.Resources[t] == nil {
				st.Resources[t] = map[string]proto.Message{}
			}
			for n, m := range added {
				st.Resources[t][n] = m
			}
			for _, n := range resp.GetRemovedResources() {
				delete(st.Resources[t], n)
			}
			st.Versions[t] = resp.GetSystemVersionInfo()
		})
		if err := s.Send(&discoverygrpc.DeltaDiscoveryRequest{TypeUrl: resp.GetTypeUrl(), ResponseNonce: resp.GetNonce()}); err != nil {
			c.finish(err)
			return
		}
	}
}

func decode(a *anypb.Any) (proto.Message, string, error) {
	m, err := a.UnmarshalNew()
	if err != nil {
		return nil, "", fmt.Errorf("xdstest: decode %s: %w", a.GetTypeUrl(), err)
	}
	r, ok := m.(cachetypes.Resource)
	if !ok {
		return nil, "", fmt.Errorf("xdstest: %s is not a resource", a.GetTypeUrl())
	}
	return m, cachev3.GetResourceName(r), nil
}

func (c *Client) update(f func(*State)) {
	c.mu.Lock()
	f(&c.state)
	c.state.Responses++
	close(c.changed)
	c.changed = make(chan struct{})
	c.mu.Unlock()
}

func (c *Client) finish(err error) {
	c.mu.Lock()
	if c.err == nil {
		c.err = err
		close(c.done)
	}
	c.mu.Unlock()
}

// Done is closed when the stream ended; Err says why.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err is the error that ended the stream (nil while it runs).
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// State returns a copy of what the client holds.
func (c *Client) State() State {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := State{Resources: map[string]map[string]proto.Message{}, Versions: map[string]string{}, Responses: c.state.Responses}
	for t, set := range c.state.Resources {
		out.Resources[t] = map[string]proto.Message{}
		for n, m := range set {
			out.Resources[t][n] = m
		}
	}
	for t, v := range c.state.Versions {
		out.Versions[t] = v
	}
	return out
}

// Wait returns nil once cond holds for the client's state, the stream's
// error if it ends first, or ctx's error.
func (c *Client) Wait(ctx context.Context, cond func(State) bool) error {
	for {
		c.mu.Lock()
		ch := c.changed
		c.mu.Unlock()
		if cond(c.State()) {
			return nil
		}
		select {
		case <-ch:
		case <-c.done:
			if cond(c.State()) {
				return nil
			}
			return c.Err()
		case <-ctx.Done():
			return fmt.Errorf("xdstest: waiting for state: %w", ctx.Err())
		}
	}
}

// WaitEnd waits for the stream to end and returns its error.
func (c *Client) WaitEnd(ctx context.Context) error {
	select {
	case <-c.done:
		return c.Err()
	case <-ctx.Done():
		return fmt.Errorf("xdstest: stream still open: %w", ctx.Err())
	}
}

// Version returns the version the client holds for typeURL.
func (c *Client) Version(typeURL string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state.Versions[typeURL]
}

// Changed returns a channel closed at the next change of state.
func (c *Client) Changed() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.changed
}
