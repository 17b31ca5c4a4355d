// Package loadbalancer gives LoadBalancer Services an address on the local
// test cluster, which has no load-balancer implementation. It is a test and
// demo aid, not a product feature: berth never starts it in a real cluster,
// and nothing routes traffic to the addresses it hands out.
//
// Without it a LoadBalancer Service never gets status.loadBalancer.ingress,
// so a Gateway with the default Service type could never truthfully become
// Programmed there. The allocator handles every Service of type LoadBalancer
// whose spec.loadBalancerClass is unset; a Service with any class is left
// alone, which is how tests get a Service without an address
// (AddressNotAssigned).
//
// Addresses come from Options.Pool (a loopback range by default). An address
// is never given to two Services; it is released when its Service is deleted
// or stops being of type LoadBalancer (the apiserver clears the status
// then). A Service whose spec.loadBalancerIP requests an address gets that
// one if it is in the pool and free, and none otherwise (as a cloud load
// balancer leaves such a Service pending). Options.RequestOnly (in the
// default options the top /24 of the pool) is given only on request, never
// to a Service that asks for any address, so a static address stays free
// for the Gateway that names it. Assignments survive a restart: existing status.loadBalancer.ingress
// addresses inside the pool are adopted before anything is allocated.
//
//	err := loadbalancer.Run(ctx, client, loadbalancer.DefaultOptions())
package loadbalancer
