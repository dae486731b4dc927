// Command coredns is CoreDNS with only the plugins the test cluster's DNS
// needs: cluster names from the Kubernetes API, health and readiness
// endpoints, and a cache. Fewer plugins keep the first build short; the
// Corefile (test/node) names no other plugin.
package main

import (
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/core/dnsserver"
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/loadbalance"
	_ "github.com/coredns/coredns/plugin/ready"
)

func main() { coremain.Run() }
