package main

import (
	"context"
	"errors"
	"flag"
	"net/http"

	"github.com/factom-sidecar/factom-sidecar/internal/health"
	"github.com/factom-sidecar/factom-sidecar/internal/probe"
)

// factomdMode runs next to factomd: it polls factomd and its references in
// the background and serves the cached verdicts as probes.
type factomdMode struct {
	env     env
	cfg     health.Config
	login   rpcLogin
	monitor *health.Monitor
}

func (m *factomdMode) RegisterFlags(fs *flag.FlagSet) {
	m.cfg = health.DefaultConfig()
	m.cfg.PodIP, _ = m.env("POD_IP")
	m.cfg.RegisterFlags(fs)
	registerFactomdLogin(&m.login, fs)
}

func (m *factomdMode) Validate() error { return errors.Join(m.cfg.Validate(), m.login.Validate()) }

func (m *factomdMode) Load() error { return m.login.Load() }

func (m *factomdMode) Setup(rt *runtime) error {
	mon, err := health.NewWithOptions(m.cfg, rt.Log, rt.Registry, nil, health.Options{User: m.login.User, Password: m.login.Password})
	if err != nil {
		return err
	}
	m.monitor = mon
	rt.Mux.Handle("GET /readyz", probe.Handler("ready", probe.Named{Name: "factomd", Check: mon.Ready}))
	rt.Mux.Handle("GET /livez", probe.Handler("live", probe.Named{Name: "factomd", Check: mon.Live}))
	rt.Mux.Handle("GET /startupz", probe.Handler("started", probe.Named{Name: "factomd", Check: mon.Started}))
	rt.Mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		probe.WriteJSON(w, http.StatusOK, mon.Status())
	})
	return nil
}

func (m *factomdMode) Run(ctx context.Context) error { return m.monitor.Run(ctx) }
