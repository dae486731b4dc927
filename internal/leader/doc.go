// Package leader elects the one writable walletd replica with a Kubernetes Lease, fences its writes with the Lease's term, and reports transitions as labels, Events, logs and metrics.
package leader
