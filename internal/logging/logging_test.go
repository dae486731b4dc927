package logging

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"k8s.io/klog/v2"
)

func TestKlogLinesBecomeJSON(t *testing.T) {
	var buf bytes.Buffer
	log, err := New(&buf, "json", "info", "walletd")
	if err != nil {
		t.Fatal(err)
	}
	RouteKlog(log)
	defer klog.ClearLogger()
	klog.Errorf("error retrieving resource lock %s: %v", "factom/lease", "connection refused")
	klog.Info("a plain info line")
	klog.V(4).Info("too verbose to be passed on")
	klog.Flush()

	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("got %d lines, want 2:\n%s", len(lines), buf.String())
	}
	want := []struct{ level, msg string }{
		{"error", "error retrieving resource lock factom/lease: connection refused"},
		{"info", "a plain info line"},
	}
	for i, line := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("line %d is not JSON: %q", i, line)
		}
		if m["level"] != want[i].level || m["message"] != want[i].msg || m["logger"] != "client-go" || m["component"] != "walletd" {
			t.Errorf("line %d = %v, want level %s, message %q, logger client-go, component walletd", i, m, want[i].level, want[i].msg)
		}
	}
}
