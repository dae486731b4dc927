// Package faults runs randomised, seeded fault schedules against a real API
// server and three walletd replicas with their sidecars while clients keep
// writing through whichever replica the factom.io/role=leader label selects,
// and checks the recorded history with test/faults/history. See docs/FAULTS.md.
package faults
