package logging

// The stable values of the "event" field of every log line the sidecar
// writes: operators alert and search on them, so a name never changes.
// The README lists them; a test keeps the list and these equal.
const (
	EventAcquireFailed              = "acquire_failed"
	EventAuthReloadFailed           = "auth_reload_failed"
	EventAuthReloaded               = "auth_reloaded"
	EventElectionFailed             = "election_failed"
	EventElectionStarted            = "election_started"
	EventFailoverComplete           = "failover_complete"
	EventInjectionRefused           = "injection_refused"
	EventInjectionSkipped           = "injection_skipped"
	EventInjectorListening          = "injector_listening"
	EventKeystoreApplied            = "keystore_applied"
	EventKeystoreApplyFailed        = "keystore_apply_failed"
	EventKeystoreCommitted          = "keystore_committed"
	EventKeystoreCounterSkipped     = "keystore_counter_skipped"
	EventKeystoreCountersAdopted    = "keystore_counters_adopted"
	EventKeystoreCreated            = "keystore_created"
	EventKeystoreDemoted            = "keystore_demoted"
	EventKeystoreFenced             = "keystore_fenced"
	EventKeystoreKeyReissued        = "keystore_key_reissued"
	EventKeystoreKeysChanged        = "keystore_keys_changed"
	EventKeystoreKeysReloadFailed   = "keystore_keys_reload_failed"
	EventKeystoreKeysReloaded       = "keystore_keys_reloaded"
	EventKeystorePromoted           = "keystore_promoted"
	EventKeystorePromotionFailed    = "keystore_promotion_failed"
	EventKeystoreRejected           = "keystore_rejected"
	EventKeystoreResealFailed       = "keystore_reseal_failed"
	EventKeystoreResealed           = "keystore_resealed"
	EventKeystoreRestore            = "keystore_restore"
	EventKeystoreRollbackFailed     = "keystore_rollback_failed"
	EventKeystoreRolledBack         = "keystore_rolled_back"
	EventKeystoreSeedMismatch       = "keystore_seed_mismatch"
	EventKeystoreTooLarge           = "keystore_too_large"
	EventKeystoreUnknownKeyRemoved  = "keystore_unknown_key_removed"
	EventKeystoreWalletdAhead       = "keystore_walletd_ahead"
	EventKeystoreWalletdChanged     = "keystore_walletd_changed"
	EventKeystoreWalletdUnaccounted = "keystore_walletd_unaccounted"
	EventKeystoreWatchError         = "keystore_watch_error"
	EventKeystoreWriteRefused       = "keystore_write_refused"
	EventKubeEventDropped           = "kube_event_dropped"
	EventKubeEventFailed            = "kube_event_failed"
	EventKubeEventsUnflushed        = "kube_events_unflushed"
	EventLeaderElected              = "leader_elected"
	EventLeaderLost                 = "leader_lost"
	EventLeaderObserved             = "leader_observed"
	EventLeaderTakeoverEarly        = "leader_takeover_early"
	EventLeaseHandedOver            = "lease_handed_over"
	EventLeaseReleaseFailed         = "lease_release_failed"
	EventLeaseReleased              = "lease_released"
	EventLeaseWatchFailed           = "lease_watch_failed"
	EventLivenessChanged            = "liveness_changed"
	EventPeerLookupFailed           = "peer_lookup_failed"
	EventPollFailed                 = "poll_failed"
	EventPromotionAbandoned         = "promotion_abandoned"
	EventPromotionFailed            = "promotion_failed"
	EventProxyAuthOff               = "proxy_auth_off"
	EventProxyConnError             = "proxy_conn_error"
	EventProxyRequest               = "proxy_request"
	EventProxyWriteReleased         = "proxy_write_released"
	EventReadinessChanged           = "readiness_changed"
	EventRoleLabelFailed            = "role_label_failed"
	EventRoleLabelled               = "role_labelled"
	EventSidecarFailed              = "sidecar_failed"
	EventSidecarInjected            = "sidecar_injected"
	EventSidecarStarted             = "sidecar_started"
	EventSidecarStopped             = "sidecar_stopped"
	EventStartupChanged             = "startup_changed"
	EventStartupComplete            = "startup_complete"
	EventTakeoverPodWatchFailed     = "takeover_pod_watch_failed"
	EventTLSReloadFailed            = "tls_reload_failed"
	EventTLSReloaded                = "tls_reloaded"
	EventWalletdCAReloadFailed      = "walletd_ca_reload_failed"
	EventWalletdCAReloaded          = "walletd_ca_reloaded"
	EventWalletdHealthy             = "walletd_healthy"
	EventWalletdInitDone            = "walletd_init_done"
	EventWalletdInitFailed          = "walletd_init_failed"
	EventWalletdLocked              = "walletd_locked"
	EventWalletdUnhealthy           = "walletd_unhealthy"
	EventWalletdUnlockFailed        = "walletd_unlock_failed"
	EventWalletdUnlocked            = "walletd_unlocked"
	EventWritesUnfinished           = "writes_unfinished"
)

// Events is every event name above, for the README check.
var Events = []string{
	EventAcquireFailed,
	EventAuthReloadFailed,
	EventAuthReloaded,
	EventElectionFailed,
	EventElectionStarted,
	EventFailoverComplete,
	EventInjectionRefused,
	EventInjectionSkipped,
	EventInjectorListening,
	EventKeystoreApplied,
	EventKeystoreApplyFailed,
	EventKeystoreCommitted,
	EventKeystoreCounterSkipped,
	EventKeystoreCountersAdopted,
	EventKeystoreCreated,
	EventKeystoreDemoted,
	EventKeystoreFenced,
	EventKeystoreKeyReissued,
	EventKeystoreKeysChanged,
	EventKeystoreKeysReloadFailed,
	EventKeystoreKeysReloaded,
	EventKeystorePromoted,
	EventKeystorePromotionFailed,
	EventKeystoreRejected,
	EventKeystoreResealFailed,
	EventKeystoreResealed,
	EventKeystoreRestore,
	EventKeystoreRollbackFailed,
	EventKeystoreRolledBack,
	EventKeystoreSeedMismatch,
	EventKeystoreTooLarge,
	EventKeystoreUnknownKeyRemoved,
	EventKeystoreWalletdAhead,
	EventKeystoreWalletdChanged,
	EventKeystoreWalletdUnaccounted,
	EventKeystoreWatchError,
	EventKeystoreWriteRefused,
	EventKubeEventDropped,
	EventKubeEventFailed,
	EventKubeEventsUnflushed,
	EventLeaderElected,
	EventLeaderLost,
	EventLeaderObserved,
	EventLeaderTakeoverEarly,
	EventLeaseHandedOver,
	EventLeaseReleaseFailed,
	EventLeaseReleased,
	EventLeaseWatchFailed,
	EventLivenessChanged,
	EventPeerLookupFailed,
	EventPollFailed,
	EventPromotionAbandoned,
	EventPromotionFailed,
	EventProxyAuthOff,
	EventProxyConnError,
	EventProxyRequest,
	EventProxyWriteReleased,
	EventReadinessChanged,
	EventRoleLabelFailed,
	EventRoleLabelled,
	EventSidecarFailed,
	EventSidecarInjected,
	EventSidecarStarted,
	EventSidecarStopped,
	EventStartupChanged,
	EventStartupComplete,
	EventTakeoverPodWatchFailed,
	EventTLSReloadFailed,
	EventTLSReloaded,
	EventWalletdCAReloadFailed,
	EventWalletdCAReloaded,
	EventWalletdHealthy,
	EventWalletdInitDone,
	EventWalletdInitFailed,
	EventWalletdLocked,
	EventWalletdUnhealthy,
	EventWalletdUnlockFailed,
	EventWalletdUnlocked,
	EventWritesUnfinished,
}
