package main

import (
	"context"
	"errors"
	"flag"
	stdlog "log"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/factom-sidecar/factom-sidecar/internal/config"
	"github.com/factom-sidecar/factom-sidecar/internal/health"
	"github.com/factom-sidecar/factom-sidecar/internal/jsonrpc"
	"github.com/factom-sidecar/factom-sidecar/internal/kube"
	"github.com/factom-sidecar/factom-sidecar/internal/kubeevents"
	"github.com/factom-sidecar/factom-sidecar/internal/kubemetrics"
	"github.com/factom-sidecar/factom-sidecar/internal/leader"
	"github.com/factom-sidecar/factom-sidecar/internal/logging"
	"github.com/factom-sidecar/factom-sidecar/internal/probe"
	"github.com/factom-sidecar/factom-sidecar/internal/server"
	"github.com/factom-sidecar/factom-sidecar/internal/walletd"
	"github.com/factom-sidecar/factom-sidecar/internal/walletdhealth"
	"github.com/factom-sidecar/factom-sidecar/internal/walletsync"
	"github.com/factom-sidecar/factom-sidecar/internal/walletsync/proxy"
)

// walletdFactomdMetricPrefix names the metrics about the factomd walletd
// uses (factom_sidecar_walletd_factomd_ready, ...). A name of their own,
// not a label, keeps every query on factom_sidecar_ready about factomd
// nodes alone, including queries written without this project in mind.
const walletdFactomdMetricPrefix = "factom_sidecar_walletd_factomd_"

// walletdMode runs next to factom-walletd: walletd health, the leader
// election, the keystore replication and the write-gating proxy.
type walletdMode struct {
	env         env
	election    leader.Config
	keystore    walletsync.Flags
	factomd     health.Config
	walletdURL  string
	proxyListen string
	security    proxySecurity
	// passphrase: an encrypted walletd, unlocked by the sidecar.
	passphrase passphraseFlag

	rt            *runtime
	events        *kubeevents.Sink
	health        *walletdhealth.Poller
	factomdHealth *health.Monitor
	elector       *leader.Elector
	replicator    *walletsync.Replicator
	proxy         *proxy.Proxy
	proxyListener net.Listener
	unlocker      *walletd.Unlocker
}

func (m *walletdMode) RegisterFlags(fs *flag.FlagSet) {
	m.election = leader.DefaultConfig(m.env, kube.ServiceAccountNamespaceFile)
	m.election.RegisterFlags(fs)
	m.keystore = walletsync.DefaultFlags()
	m.keystore.RegisterFlags(fs)
	// The factomd walletd uses (usually the factom-bridge Service): watched
	// and reported in /status, not part of walletd's readiness — keystore
	// operations do not need factomd.
	m.factomd = health.DefaultConfig()
	m.factomd.RegisterFactomdFlags(fs)
	fs.StringVar(&m.walletdURL, "walletd-url", "http://127.0.0.1:8089", "walletd's JSON-RPC base URL (/v2 is appended)")
	fs.StringVar(&m.proxyListen, "proxy-listen", ":8189", "address of the write-gating JSON-RPC proxy clients use instead of walletd")
	m.security.RegisterFlags(fs)
	m.passphrase.RegisterFlags(fs)
}

func (m *walletdMode) Validate() error {
	var errs []error
	if err := config.HTTPURL("walletd-url", m.walletdURL); err != nil {
		errs = append(errs, err)
	} else if m.security.walletdCAFile != "" && !strings.HasPrefix(m.walletdURL, "https://") {
		errs = append(errs, config.Errorf("walletd-ca-file", "needs an https --walletd-url (walletd -wallettls), got %q", m.walletdURL))
	}
	if !strings.Contains(m.proxyListen, ":") {
		errs = append(errs, config.Errorf("proxy-listen", "%q: want host:port or :port", m.proxyListen))
	}
	if err := m.election.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := m.keystore.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := m.factomd.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := m.security.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func (m *walletdMode) Load() error {
	return errors.Join(m.keystore.Load(), m.security.Load(), m.passphrase.Load())
}

func (m *walletdMode) Setup(rt *runtime) error {
	m.rt = rt
	var err error
	if err := m.security.Setup(rt.Log); err != nil {
		return err
	}
	rpcURL := walletdRPCURL(m.walletdURL)
	m.health = walletdhealth.New(m.walletdClient(rpcURL, time.Second), walletdhealth.Options{}, rt.Log)
	if m.factomdHealth, err = health.NewWithOptions(m.factomd, rt.Log.With().Str("target", "factomd").Logger(), rt.Registry, nil,
		health.Options{MetricPrefix: walletdFactomdMetricPrefix, User: m.security.factomd.User, Password: m.security.factomd.Password}); err != nil {
		return err
	}

	// Before the first client and elector: client-go reads its metric
	// hooks when they are built.
	if err := kubemetrics.Register(rt.Registry); err != nil {
		return err
	}
	restCfg, err := m.election.RESTConfig()
	if err != nil {
		return err
	}
	// The keystore's client is separate from the election's, so a burst of
	// keystore traffic cannot throttle lease renewals.
	// Each acknowledged write is one Secret update: client-go's default
	// limit (5 requests/s, burst 10) would queue commits behind a token
	// bucket and add up to 200 ms to every write once the burst is spent.
	work, err := kube.NewClient(restCfg, kube.ClientOptions{QPS: 100, Burst: 200})
	if err != nil {
		return err
	}
	// One Event sink for the election and the keystore, on a client of its
	// own: Events never wait behind lease renewals or commits.
	evClient, err := kube.NewClient(restCfg, kube.ClientOptions{UserAgent: m.election.UserAgent() + " (events)", Timeout: m.election.RequestTimeout()})
	if err != nil {
		return err
	}
	m.events = kubeevents.New(evClient, m.election.Namespace, m.election.PodName, kubeevents.Options{Timeout: m.election.RequestTimeout(), Log: rt.Log})
	wc := walletd.New(m.walletdClient(rpcURL, 15*time.Second))
	m.replicator, err = m.keystore.NewReplicator(work, m.election.Namespace, m.events, wc, rt.Log, rt.Registry)
	if err != nil {
		return err
	}

	// Where followers probe this replica when it leads (early takeover).
	podIP, _ := m.env("POD_IP")
	m.election.Takeover.ResolveAdvertise(rt.Addr, m.proxyListen, podIP)
	el, err := leader.New(leader.Options{Config: m.election, Log: rt.Log, Registry: rt.Registry, RESTConfig: restCfg, InSync: m.replicator.InSync, Events: m.events,
		Hooks: leader.Hooks{OnPromote: m.replicator.Promote, OnDemote: m.replicator.OnDemote, TermFloor: m.replicator.TermFloor}})
	if err != nil {
		return err
	}
	m.elector = el
	m.replicator.OnFenced(el.Fenced)

	m.proxy, err = proxy.New(m.security.options(proxy.Options{
		WalletdURL: m.walletdURL,
		Gate:       el.Gate(),
		Committer:  m.replicator,
		ReadGate:   m.replicator,
		LeaderName: func() string { return el.Status().Holder },
		Log:        rt.Log,
		Registerer: rt.Registry,
	}))
	if err != nil {
		return err
	}
	// Bind now: a busy or bad proxy address fails at start.
	if m.proxyListener, err = server.Listen(m.proxyListen); err != nil {
		return err
	}
	m.proxyListener = m.security.listener(m.proxyListener)

	readyChecks := []probe.Named{{Name: "walletd", Check: m.health.Ready}}
	if pass := m.passphrase.Value; pass != "" {
		m.unlocker = walletd.NewUnlocker(walletd.New(m.walletdClient(rpcURL, 10*time.Second)), pass, walletd.UnlockOptions{}, rt.Log)
		readyChecks = append(readyChecks, probe.Named{Name: "walletdLock", Check: m.unlocker.Ready})
	}
	readyChecks = append(readyChecks, probe.Named{Name: "keystore", Check: m.replicator.ReadyCheck()})
	election := probe.Named{Name: "election", Check: el.ElectionLiveCheck}
	rt.Mux.Handle("GET /readyz", probe.Handler("ready", readyChecks...))
	rt.Mux.Handle("GET /livez", probe.Handler("live", probe.Named{Name: "walletd", Check: m.health.Live}, election))
	rt.Mux.Handle("GET /startupz", probe.Handler("started", probe.Named{Name: "walletd", Check: m.health.Started}))
	rt.Mux.Handle("GET /leader", el.LeaderHandler())
	rt.Mux.HandleFunc("GET /status", m.status)
	return nil
}

func (m *walletdMode) status(w http.ResponseWriter, r *http.Request) {
	ready, _ := probe.Evaluate("ready", probe.Named{Name: "walletd", Check: m.health.Ready})
	if m.unlocker != nil {
		lock := m.unlocker.Ready()
		ready["locked"], ready["lockReason"] = !lock.OK, lock.Reason
		for k, v := range lock.Fields {
			ready[k] = v
		}
	}
	probe.WriteJSON(w, http.StatusOK, map[string]any{
		"mode":     "walletd",
		"version":  versionString(),
		"election": m.elector.Status(),
		"keystore": m.replicator.Status(),
		"walletd":  ready,
		"factomd":  m.factomdHealth.Status(),
	})
}

// Run polls walletd, follows the keystore, serves the proxy and takes part
// in the election until ctx ends. On shutdown the elector closes writes,
// waits for writes in flight and releases the Lease before the proxy stops.
func (m *walletdMode) Run(ctx context.Context) error {
	bg, stopBG := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	// The elector flushes the Events on its way out, before bg ends.
	wg.Go(func() { m.events.Run(bg) })
	wg.Go(func() { m.health.Run(bg) })
	wg.Go(func() { _ = m.factomdHealth.Run(bg) })
	wg.Go(func() { _ = m.replicator.RunFollower(bg) })
	wg.Go(func() { m.security.Run(bg) })
	if m.unlocker != nil {
		wg.Go(func() { m.unlocker.Run(bg) })
	}
	proxySrv := server.New(m.proxy, m.proxy.MaxRequestDuration()+5*time.Second)
	// net/http reports connections that end before a request (a follower's
	// TCP-connect probe of a TLS proxy ends in a handshake EOF) on its own
	// logger: as JSON at debug level, not as plain lines on stderr.
	proxySrv.ErrorLog = stdlog.New(debugLines{m.rt.Log}, "", 0)
	proxyErr := make(chan error, 1)
	go func() { proxyErr <- server.Serve(bg, proxySrv, m.proxyListener, 10*time.Second) }()

	err := m.elector.Run(ctx)
	stopBG()
	if perr := <-proxyErr; perr != nil && err == nil {
		err = perr
	}
	wg.Wait()
	return err
}

// debugLines writes each line net/http logs as one debug line.
type debugLines struct{ log zerolog.Logger }

func (d debugLines) Write(p []byte) (int, error) {
	d.log.Debug().Str("event", logging.EventProxyConnError).Msg(strings.TrimSpace(string(p)))
	return len(p), nil
}

// walletdClient calls walletd with its RPC credentials, if any.
func (m *walletdMode) walletdClient(rpcURL string, timeout time.Duration) *jsonrpc.Client {
	return jsonrpc.New(rpcURL, jsonrpc.Options{Timeout: timeout, User: m.security.walletd.User, Password: m.security.walletd.Password, TLS: m.security.walletdTLS})
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
