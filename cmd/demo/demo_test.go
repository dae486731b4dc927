package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// The demo is the README's main command; --once runs it unattended, so
// it is tested end to end like any other part of the system.
func TestDemoRunsToTheEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole system; runs without -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var out bytes.Buffer
	if err := run(ctx, &out, true, false); err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	text := out.String()
	for _, want := range []string{
		"is the writable leader",
		"every replica's walletd holds all of them",
		"became the writable leader",
		"failover_complete",
		"the new leader holds all 6 acknowledged addresses",
		"readiness_changed",
		"Done (--once)",
		"all stopped",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("demo output lacks %q\n%s", want, text)
		}
	}
}

// The default mode: the demo on a real single-node cluster, unattended.
func TestDemoRunsToTheEndOnTheRealNode(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real node; runs without -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Minute)
	defer cancel()
	var out bytes.Buffer
	if err := runNode(ctx, &out, true, false); err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	text := out.String()
	for _, want := range []string{
		"kubectl apply -k manifests/overlays/local",
		"is the writable leader",
		"first write acknowledged through the Service",
		"the new leader holds all 6 acknowledged addresses",
		"failover_complete",
		"LeaderElected",
		"rejoined as a follower in sync",
		"NotReady",
		"Ready again",
		"landed in directory block",
		"entries written,",
		"twice; ",
		"factom.io/role",
		"Done (--once)",
		"all stopped",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("demo output lacks %q\n%s", want, text)
		}
	}
}
