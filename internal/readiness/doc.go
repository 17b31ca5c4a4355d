// Package readiness is `berth wait`: it watches Gateways and the objects of
// their bundles and decides, from what it sees, whether each Gateway is
// ready (exit 0), has failed (exit 1), or is still coming up (exit 2 once
// the timeout passes), printing progress as it changes.
//
// The decision (Decide) and the progress lines (Reporter) are pure functions
// of a Snapshot; only Run does I/O: one watch per kind (internal/kindwatch,
// the layer apply's engine uses too), level-triggered (every change wakes
// the loop, which re-reads the watch caches), never a sleep-poll loop.
//
// Options.ListenerSet waits for one ListenerSet instead: its parent Gateway
// and that Gateway's bundle are watched as above, the ListenerSet beside
// them, and DecideListenerSet takes the decision (Snapshot.Verdict).
//
//	out, err := readiness.Run(ctx, restConfig, readiness.Options{
//		Namespace: "team-a", Name: "gateway-a", Timeout: 2 * time.Minute, Out: os.Stdout,
//	})
//	// err: the wait could not run (bad config, Gateways not readable);
//	// out.Phase: Ready, Failed, or Waiting (timed out).
//
// The rule (see Decide) agrees with `kubectl wait --for=condition=Programmed`
// on success: Ready exactly when kubectl wait would return 0; berth wait only
// stops earlier, with exit 1, when waiting longer cannot help.
package readiness
