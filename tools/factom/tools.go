//go:build tools

// Package tools pins the real factomd that the integration tests and the
// demo run against.
package tools

import _ "github.com/FactomProject/factomd"
