// Package operator is what `kubectl factom` does: it reads the walletd
// Lease, the keystore Secret's annotations, the pods and every sidecar's
// /status (through the API server's pod proxy), and asks the sidecars for
// pause, resume and switchover through Lease annotations.
package operator
