package xds_test

import (
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/berth-gateway/berth/xds"
	"github.com/berth-gateway/berth/xds/certs"
)

// Both run on every replica when added to a controller-runtime manager.
var (
	_ manager.Runnable               = (*xds.Server)(nil)
	_ manager.LeaderElectionRunnable = (*xds.Server)(nil)
	_ manager.Runnable               = (*certs.Manager)(nil)
	_ manager.LeaderElectionRunnable = (*certs.Manager)(nil)
)
