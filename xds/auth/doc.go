// Package auth authenticates xDS clients: it turns the bearer token a proxy
// presents into the Kubernetes ServiceAccount it runs as, with a TokenReview
// for the xDS audience, and says precisely why when it cannot.
//
// The package owns the token pipeline only. It knows nothing about Gateways:
// mapping an Identity to the Gateway it may read is the xDS server's job.
//
//	a := auth.New(auth.NewKubernetesReviewer(clientset.AuthenticationV1()), auth.DefaultOptions(), nil)
//	token, err := auth.TokenFromMetadata(md)           // "authorization: Bearer <jwt>"
//	res, err := a.Authenticate(ctx, token)             // res.Identity = {team-a envoy-team-a-gateway-a-b65c6264}
//	code := status.Code(err)                           // Unauthenticated, PermissionDenied or Unavailable
//
// # Pipeline
//
// A token is checked locally before the apiserver is asked, and every local
// check can only refuse, never grant: the TokenReview alone decides who the
// caller is. Locally: present (Missing), at most Options.MaxTokenBytes
// (TooLarge), a compact JWT with a JSON payload carrying "exp" (Malformed),
// "exp" in the future (Expired), the xDS audience among "aud"
// (WrongAudience). These claims are read without verifying the signature,
// which is safe because they are used only to say no early, and to bound how
// long a positive answer is cached.
//
// Then the caches (keyed by the SHA-256 of the token): accepted tokens in
// one bounded LRU (Options.CacheSize), the apiserver's refusals in another
// (Options.NegativeCacheSize), so refusals can never evict an accepted
// token. Then the signature: Options.Verifier (IssuerVerifier in berth)
// checks it locally against the cluster's ServiceAccount issuer keys, read
// from the apiserver's service-account issuer discovery (GET
// /openid/v1/jwks, which the default system:service-account-issuer-discovery
// binding lets every ServiceAccount read) and fetched again on an unknown key
// id at most every 10 s. A token it refuses (BadSignature: forged, or signed
// by another cluster) costs no TokenReview. The local check can only refuse:
// a token it verifies still goes to the TokenReview, which decides. Then
// one TokenReview shared by all concurrent callers with the same token
// (singleflight), bounded by Options.ReviewTimeout and by
// Options.MaxConcurrentReviews slots reserved for verified tokens; only
// while the issuer keys could never be fetched do tokens go unverified to
// a pool of their own (Options.MaxUnverifiedReviews), which cannot take the
// verified tokens' capacity. The review must say authenticated, must list
// the xDS audience in status.audiences (as the TokenReview API asks clients
// to check), and its username must be system:serviceaccount:<ns>:<name>.
//
// A positive answer is cached until Options.ExpiryMargin before the token's
// exp and never longer than Options.MaxCacheTTL (10 min: the backstop should
// a pod deletion be missed), so a token costs one TokenReview per 10 minutes
// at most however many streams present it. RevokePod drops the accepted
// tokens bound to a deleted pod (the recorded pod UID) and refuses a
// review of one still in flight. A negative
// answer from the apiserver is cached for Options.NegativeTTL so that a
// client repeating a bad token cannot hammer the apiserver; an apiserver
// error is never cached.
//
// # Codes
//
//	Unauthenticated   missing, too large, malformed, expired, wrong audience, bad signature,
//	                  rejected by the apiserver, revoked (its pod was deleted)
//	PermissionDenied  authenticated, but not a ServiceAccount, or not bound to a pod (see below);
//	                  the server adds: unknown identity, node claiming another Gateway
//	InvalidArgument   the server adds: first request without a node
//	Unavailable       TokenReview failed, timed out, or too many reviews in flight
//
// # Odd tokens: decisions
//
//   - Not bound to any pod (a TokenRequest without boundObjectRef, or bound
//     only to a Secret): refused with PermissionDenied (NotPodBound) while
//     Options.AllowUnboundTokens is false, the default. Envoy always runs with a
//     kubelet-projected token, which is pod-bound; requiring the binding means
//     a token dies with its pod (revocation), and a long-lived token minted
//     by hand ("kubectl create token" without --bound-object-kind) cannot
//     feed a proxy outside the cluster. The
//     evidence is the TokenReview's user.extra
//     "authentication.kubernetes.io/pod-name", never the JWT's own claims.
//   - Bound to a pod of another workload: the apiserver refuses to bind a
//     ServiceAccount's token to a pod that does not run as that
//     ServiceAccount, so such a pod runs as the Gateway's ServiceAccount and
//     was created by someone allowed to create pods with it in the Gateway's
//     namespace, who can already act as the proxy. Accepted: the identity is
//     the ServiceAccount (each Gateway has its own); the pod name is
//     reported in Result for logs. (The integration tests check both the
//     apiserver's refusal and this acceptance.) Checking pod labels would add no security
//     (their author chose them) and an apiserver read per token.
//   - With or without the other extra fields (pod-uid, credential-id,
//     node-name, node-uid): ignored for the decision, which needs pod-name
//     only (pod-uid is copied into Result when present). An apiserver too old
//     to report extras would make every token look unbound: set
//     AllowUnboundTokens there.
//   - Without exp (legacy Secret-based ServiceAccount tokens never expire):
//     Malformed. Projected tokens always carry exp, and a token that never
//     expires could be cached forever.
//   - Huge, binary, many dots, bad base64, non-JSON payload: refused locally
//     with Unauthenticated before any apiserver call, in time linear in
//     MaxTokenBytes.
//
// A stream authenticated with a token is closed by the server when that
// token expires (Result.Expiry), so a proxy re-presents its rotated token,
// and when its pod is deleted (the server's RevokePod).
package auth
