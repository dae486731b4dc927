package kubeevents

// The reasons of the Kubernetes Events the sidecar posts on its pod: what
// `kubectl get events --field-selector reason=...` and alerting on Events
// select on, so they are stable. The README lists them; a test keeps the
// list equal to Reasons.
const (
	ReasonLeaderElected        = "LeaderElected"
	ReasonLeaderLost           = "LeaderLost"
	ReasonLeaderTakeoverEarly  = "LeaderTakeoverEarly"
	ReasonLeaseReleased        = "LeaseReleased"
	ReasonPromotionFailed      = "PromotionFailed"
	ReasonKeystoreCreated      = "KeystoreCreated"
	ReasonKeystoreFenced       = "KeystoreFenced"
	ReasonKeystoreRejected     = "KeystoreRejected"
	ReasonKeystoreSeedMismatch = "KeystoreSeedMismatch"
)

// Reasons is every reason above.
var Reasons = []string{
	ReasonLeaderElected, ReasonLeaderLost, ReasonLeaderTakeoverEarly, ReasonLeaseReleased, ReasonPromotionFailed,
	ReasonKeystoreCreated, ReasonKeystoreFenced, ReasonKeystoreRejected, ReasonKeystoreSeedMismatch,
}
