package health

import (
	"context"
	"strings"
	"testing"
	"time"
)

type fakeResolver struct{ addrs []string }

func (r fakeResolver) LookupHost(ctx context.Context, host string) ([]string, error) {
	return r.addrs, nil
}

func TestPeerServiceSkipsSelf(t *testing.T) {
	clock := newFakeClock()
	local := newFake(t, clock, 90)
	peer := newFake(t, clock, 100)
	_, port, _ := strings.Cut(strings.TrimPrefix(peer.URL(), "http://"), ":")
	cfg := testConfig(local.URL())
	cfg.PeerService = "factomd.factom.svc.cluster.local"
	cfg.PodIP = "10.1.2.3"
	cfg.PeerPort = mustAtoi(t, port)
	h := newHarness(t, clock, cfg, Options{Resolver: fakeResolver{addrs: []string{"10.1.2.3", "127.0.0.1"}}})
	h.poll(t) // resolves the peers
	clock.Advance(time.Second)
	h.poll(t) // polls them
	st := h.m.Status()
	if len(st.References) != 1 || st.References[0].URL != "http://127.0.0.1:"+port+"/v2" {
		t.Fatalf("references = %+v, want only the peer that is not this pod", st.References)
	}
	if r := h.m.Ready(); r.OK || r.Reason != ReasonLagging {
		t.Fatalf("Ready() = %+v, want lagging behind the peer", r)
	}
}
