package main

import (
	"context"
	"errors"
	"flag"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/factom-sidecar/factom-sidecar/internal/config"
	"github.com/factom-sidecar/factom-sidecar/internal/leader"
	"github.com/factom-sidecar/factom-sidecar/internal/probe"
	"github.com/factom-sidecar/factom-sidecar/internal/walletdhealth"
)

// walletdMode runs next to factom-walletd: walletd health, the leader
// election and (wired in here) the keystore replication and the proxy.
type walletdMode struct {
	election    leader.Config
	walletdURL  string
	proxyListen string

	rt      *runtime
	health  *walletdhealth.Poller
	elector *leader.Elector
}

func (m *walletdMode) RegisterFlags(fs *flag.FlagSet) {
	m.election.RegisterFlags(fs)
	fs.StringVar(&m.walletdURL, "walletd-url", "http://127.0.0.1:8089", "walletd's JSON-RPC base URL (/v2 is appended)")
	fs.StringVar(&m.proxyListen, "proxy-listen", ":8189", "address of the write-gating JSON-RPC proxy clients use instead of walletd")
}

func (m *walletdMode) Validate() error {
	var errs []error
	if err := config.HTTPURL("walletd-url", m.walletdURL); err != nil {
		errs = append(errs, err)
	}
	if !strings.Contains(m.proxyListen, ":") {
		errs = append(errs, config.Errorf("proxy-listen", "%q: want host:port or :port", m.proxyListen))
	}
	if err := m.election.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// hooks is where the keystore replication plugs into the election:
// OnPromote runs before writes open, OnDemote after they closed.
func (m *walletdMode) hooks() leader.Hooks { return leader.Hooks{} }

func (m *walletdMode) Setup(rt *runtime) error {
	m.rt = rt
	m.health = walletdhealth.NewForURL(walletdRPCURL(m.walletdURL), walletdhealth.Options{}, rt.Log)
	el, err := leader.New(leader.Options{Config: m.election, Log: rt.Log, Registry: rt.Registry, Hooks: m.hooks()})
	if err != nil {
		return err
	}
	m.elector = el

	walletd := func(c probe.Check) probe.Named { return probe.Named{Name: "walletd", Check: c} }
	election := probe.Named{Name: "election", Check: el.ElectionLiveCheck}
	rt.Mux.Handle("GET /readyz", probe.Handler("ready", walletd(m.health.Ready)))
	rt.Mux.Handle("GET /livez", probe.Handler("live", walletd(m.health.Live), election))
	rt.Mux.Handle("GET /startupz", probe.Handler("started", walletd(m.health.Started)))
	rt.Mux.Handle("GET /leader", el.LeaderHandler())
	rt.Mux.HandleFunc("GET /status", m.status)
	return nil
}

func (m *walletdMode) status(w http.ResponseWriter, r *http.Request) {
	ready, _ := probe.Evaluate("ready", probe.Named{Name: "walletd", Check: m.health.Ready})
	probe.WriteJSON(w, http.StatusOK, map[string]any{
		"mode":     "walletd",
		"version":  versionString(),
		"election": m.elector.Status(),
		"walletd":  ready,
	})
}

// Run polls walletd and takes part in the election until ctx ends; the
// elector closes writes and releases the Lease before Run returns.
func (m *walletdMode) Run(ctx context.Context) error {
	pollCtx, stopPoll := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { m.health.Run(pollCtx) })
	err := m.elector.Run(ctx)
	stopPoll()
	wg.Wait()
	return err
}

// walletdRPCURL appends walletd's /v2 path to a base URL without one.
func walletdRPCURL(base string) string {
	u, err := url.Parse(base)
	if err != nil || strings.HasSuffix(strings.TrimRight(u.Path, "/"), "/v2") {
		return base
	}
	u.Path = strings.TrimRight(u.Path, "/") + "/v2"
	return u.String()
}
