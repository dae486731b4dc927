// Package walletsync replicates the walletd keystore through a Kubernetes
// Secret: the leader commits every keystore write before the client sees
// it (Replicator.Commit), followers replay the Secret into their own walletd
// (Replicator.RunFollower), and a promoted follower catches up and bumps the
// fencing term before writes open (Replicator.Promote). The write-gating
// JSON-RPC proxy is in the proxy sub-package.
package walletsync
