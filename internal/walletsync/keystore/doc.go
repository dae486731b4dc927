// Package keystore is the replicated walletd keystore: the state (seed,
// derivation counters, imported and removed keys), how a successful walletd
// write changes it, BIP44 derivation to check and replay derived keys, and
// the authenticated sealing that protects it inside the Kubernetes Secret.
package keystore
