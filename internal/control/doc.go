// Package control holds the names and formats an operator and the sidecars
// share through the cluster: Lease annotations for pause and switchover,
// and the failover history kept on the keystore Secret.
package control
