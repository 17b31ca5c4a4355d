// Package localcluster runs a real Kubernetes control plane on loopback for
// berth's tests and demo: etcd, kube-apiserver (RBAC, service-account token
// signing, so TokenRequest and TokenReview work), kube-controller-manager,
// kube-scheduler, and kwok simulating the nodes and the pods' kubelets.
//
// The binaries are built from the Go module proxy by the separate modules
// in hack/tools (so berth's own go.mod never carries k8s.io/kubernetes) into
// a cache folder keyed by those modules' go.mod and go.sum: a second build at
// the same versions is a no-op.
//
// Usage:
//
//	bins, err := localcluster.EnsureBinaries(ctx, localcluster.BuildOptions{})
//	c, err := localcluster.Start(ctx, localcluster.Options{Binaries: bins})
//	defer c.Stop()
//	cs := kubernetes.NewForConfigOrDie(c.AdminConfig())
//
// Every process is started with a parent-death signal, so nothing outlives
// the process that started it, even when a test binary is killed by its
// timeout; Stop also verifies that every started PID is gone.
package localcluster
