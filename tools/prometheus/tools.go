//go:build tools

// Package tools pins promtool, which checks and unit-tests the shipped
// Prometheus alert rules in the tests, and the Prometheus server, for
// scraping the sidecars in tests.
package tools

import (
	_ "github.com/prometheus/prometheus/cmd/prometheus"
	_ "github.com/prometheus/prometheus/cmd/promtool"
)
