// Package version holds the build's version, set by -ldflags at link time.
package version

// Version is overwritten by `-X .../internal/version.Version=...`.
var Version = "dev"
