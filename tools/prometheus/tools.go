//go:build tools

// Package tools pins promtool, which checks and unit-tests the shipped
// Prometheus alert rules in the tests.
package tools

import (
	_ "github.com/prometheus/prometheus/cmd/promtool"
)
