package e2e

import (
	"context"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berth-gateway/berth/internal/localcluster"
	"github.com/berth-gateway/berth/internal/testenv"
)

// Workaround (see docs/reliability.md, "kwok nodes go NotReady"): the local
// cluster runs kube-controller-manager with every controller, including
// node-lifecycle, while kwok's "fast" node stage sends no heartbeat and no
// node Lease. About 50 s after start node-lifecycle finds the nodes silent,
// marks them NotReady and sets Ready=False on every pod, which kwok never
// sets back: any run longer than that sees every Deployment unavailable, and
// berth rightly reports Programmed=False. Until localcluster disables
// node-lifecycle (or adds kwok's heartbeat-with-lease stage), this renews a
// node Lease for each simulated node every 10 s, as a kubelet does.
var heartbeatOnce sync.Once

func keepNodesAlive(env *testenv.Env) {
	if env.Cluster == nil {
		return // a joined cluster has its own kubelets (or its own answer)
	}
	heartbeatOnce.Do(func() {
		go func() {
			for {
				renewNodeLeases(env)
				time.Sleep(10 * time.Second)
			}
		}()
	})
}

func renewNodeLeases(env *testenv.Env) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	nodes, err := env.Client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return
	}
	leases := env.Client.CoordinationV1().Leases(corev1.NamespaceNodeLease)
	now := metav1.NewMicroTime(time.Now())
	for _, n := range nodes.Items {
		if n.Annotations[localcluster.KwokNodeAnnotation] == "" {
			continue
		}
		l, err := leases.Get(ctx, n.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			holder, seconds := n.Name, int32(40)
			_, _ = leases.Create(ctx, &coordinationv1.Lease{
				ObjectMeta: metav1.ObjectMeta{Name: n.Name, Namespace: corev1.NamespaceNodeLease},
				Spec:       coordinationv1.LeaseSpec{HolderIdentity: &holder, LeaseDurationSeconds: &seconds, RenewTime: &now},
			}, metav1.CreateOptions{})
			continue
		}
		if err != nil {
			continue
		}
		l.Spec.RenewTime = &now
		_, _ = leases.Update(ctx, l, metav1.UpdateOptions{})
	}
}
