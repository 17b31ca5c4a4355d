package controller

import (
	"context"
	"errors"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	k8stypes "k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/berth-gateway/berth/apply"
	"github.com/berth-gateway/berth/render"
)

// sweepLoop destroys inventories whose Gateway no longer exists (its
// finalizer was forced off while berth was away) or is no longer berth's, at
// start and every SweepInterval (leader only: a manager Runnable without
// NeedLeaderElection=false).
func (c *Controller) sweepLoop(ctx context.Context) error {
	if !c.mgr.GetCache().WaitForCacheSync(ctx) {
		return nil
	}
	t := time.NewTicker(c.opts.SweepInterval)
	defer t.Stop()
	for {
		if n, err := c.Sweep(ctx); err != nil {
			c.log.Error(err, "sweeping orphaned inventories", "destroyed", n)
		} else if n > 0 {
			c.log.Info("swept orphaned inventories", "destroyed", n)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Sweep destroys every inventory berth manages whose Gateway is gone or not
// served by berth, and returns how many it destroyed.
func (c *Controller) Sweep(ctx context.Context) (int, error) {
	infos, err := c.engine.Inventories(ctx)
	if err != nil {
		c.metrics.sweep(err)
		return 0, fmt.Errorf("list inventories: %w", err)
	}
	var (
		n    int
		errs []error
	)
	for _, info := range infos {
		key, ok := owningGateway(info.Inventory)
		if !ok {
			continue
		}
		if !c.inScope(ctx, key.Namespace) {
			continue
		}
		// Only inventories whose Gateway is gone: one that exists is the
		// Gateway reconciler's (it holds the finalizer) or another berth
		// installation's (another controllerName, same labels).
		var gw gwv1.Gateway
		err := c.client.Get(ctx, key, &gw)
		switch {
		case err == nil:
			continue
		case !apierrors.IsNotFound(err):
			errs = append(errs, err)
			continue
		}
		if err := c.destroy(ctx, nil, info.Inventory); err != nil {
			errs = append(errs, err)
			continue
		}
		n++
		c.metrics.swept.Inc()
	}
	err = errors.Join(errs...)
	c.metrics.sweep(err)
	return n, err
}

// owningGateway reads the Gateway an inventory belongs to from its labels.
func owningGateway(inv apply.Inventory) (k8stypes.NamespacedName, bool) {
	ns, name := inv.Labels[render.LabelOwningGatewayNamespace], inv.Labels[render.LabelOwningGatewayName]
	if ns == "" || name == "" || ns != inv.Namespace || inv.Name != render.InventoryName(ns, name) {
		return k8stypes.NamespacedName{}, false
	}
	return k8stypes.NamespacedName{Namespace: ns, Name: name}, true
}

// Uninstall is the way out that leaves nothing stuck: it destroys the bundle
// of every Gateway holding berth's finalizer whose class is
// opts.ControllerName's (or gone), in opts.WatchNamespaces or everywhere, and
// removes the finalizer; then it destroys inventories whose Gateway is gone. Run it with the controller stopped
// (`berth controller --uninstall`), before deleting berth's RBAC and CRDs.
func Uninstall(ctx context.Context, cfg *rest.Config, opts Options) error {
	if err := opts.complete(); err != nil {
		return fmt.Errorf("controller options: %w", err)
	}
	scheme, err := Scheme()
	if err != nil {
		return err
	}
	cl, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return err
	}
	eng, err := apply.New(cfg, opts.Apply)
	if err != nil {
		return err
	}
	defer eng.Close()
	log := opts.Logger
	var errs []error
	// Lists only: the uninstall Job runs with the controller's rights, which
	// read through watches (list, watch) and never get one object.
	var classes gwv1.GatewayClassList
	if err := cl.List(ctx, &classes); err != nil {
		return fmt.Errorf("list GatewayClasses: %w", err)
	}
	controllerOf := make(map[string]string, len(classes.Items))
	for _, class := range classes.Items {
		controllerOf[class.Name] = string(class.Spec.ControllerName)
	}
	namespaces := opts.WatchNamespaces
	if len(namespaces) == 0 {
		namespaces = []string{""}
	}
	existing := map[client.ObjectKey]bool{}
	listed := true
	for _, ns := range namespaces {
		var list gwv1.GatewayList
		if err := cl.List(ctx, &list, client.InNamespace(ns)); err != nil {
			errs = append(errs, fmt.Errorf("list Gateways: %w", err))
			listed = false
			continue
		}
		for i := range list.Items {
			gw := &list.Items[i]
			key := client.ObjectKeyFromObject(gw)
			existing[key] = true
			if !controllerutil.ContainsFinalizer(gw, render.Finalizer) {
				continue
			}
			if name, ok := controllerOf[string(gw.Spec.GatewayClassName)]; ok && name != opts.ControllerName {
				// Another berth installation's Gateway (same finalizer name).
				log.Info("left to its controller", "gateway", key.String(), "controllerName", name)
				continue
			}
			if _, err := eng.Destroy(ctx, InventoryOf(key)); err != nil {
				errs = append(errs, fmt.Errorf("destroy bundle of Gateway %s: %w", key, err))
				continue
			}
			patch := client.MergeFromWithOptions(gw.DeepCopy(), client.MergeFromWithOptimisticLock{})
			controllerutil.RemoveFinalizer(gw, render.Finalizer)
			if err := cl.Patch(ctx, gw, patch); err != nil && !apierrors.IsNotFound(err) {
				errs = append(errs, fmt.Errorf("remove finalizer of Gateway %s: %w", key, err))
				continue
			}
			log.Info("uninstalled Gateway's data plane", "gateway", key.String())
		}
	}
	if !listed {
		// Without every Gateway known, an inventory cannot be told orphaned.
		return errors.Join(errs...)
	}
	// Then inventories whose Gateway is gone (finalizer forced off earlier).
	infos, err := eng.Inventories(ctx)
	if err != nil {
		errs = append(errs, fmt.Errorf("list inventories: %w", err))
	}
	for _, info := range infos {
		key, ok := owningGateway(info.Inventory)
		if !ok || existing[key] {
			continue // unknown, or its Gateway exists (another installation's)
		}
		if _, err := eng.Destroy(ctx, info.Inventory); err != nil {
			errs = append(errs, fmt.Errorf("destroy inventory %s: %w", info.Key(), err))
		}
	}
	return errors.Join(errs...)
}
