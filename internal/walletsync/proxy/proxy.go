package proxy

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hashicorp/go-retryablehttp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// TermHeader is the response header that carries the term a keystore write
// was committed under. It is set only on a write that walletd did and the
// replicated store committed: its presence means the write is acknowledged.
const TermHeader = "X-Factom-Term"

// Gate says whether this replica may write, and under which term.
type Gate interface {
	// BeginWrite admits one write if this replica is the writable leader.
	// term is the fencing token the commit is made under; done must be
	// called once the write, commit included, has finished. When the replica
	// is not writable it returns an error; its text goes into the JSON-RPC
	// error, so it may name the leader but must not hold secrets.
	BeginWrite(ctx context.Context) (term int64, done func(), err error)
}

// Committer replicates the keystore change a write made. For each keystore
// write the proxy calls Prepare before walletd, then exactly one of Commit
// (walletd answered with a result) or Abort (any other outcome), all under
// the write lock.
type Committer interface {
	// Prepare refuses a write that must not start: this replica is not the
	// leader for term, or walletd still holds an earlier write's change
	// that could not be taken back. Nothing is sent to walletd then.
	Prepare(ctx context.Context, term int64) error
	// Commit stores the keystore change of one write under term. It returns
	// an error when the change is not durably replicated (store unreachable,
	// term fenced): the proxy then tells the client the write failed. params
	// and result carry secrets; the error text must not.
	Commit(ctx context.Context, term int64, method string, params, result json.RawMessage) error
	// Abort ends a write walletd did not answer with a result. unchanged
	// says walletd refused it before acting (an unknown method, params that
	// do not decode); otherwise walletd may have made part of the change
	// (it imports a batch key by key and stops at the first bad one), or
	// still be making it, and the Committer takes back whatever the store
	// does not hold before the next write.
	Abort(ctx context.Context, term int64, method string, unchanged bool) error
}

// ReadGate says whether this replica may serve reads.
type ReadGate interface {
	// InSync reports whether the local walletd holds the replicated keystore
	// (a follower that applied the latest generation, or the leader).
	InSync() bool
}

// Defaults for the zero values of Options.
const (
	DefaultMaxBodyBytes     = 1 << 20
	DefaultMaxResponseBytes = 16 << 20 // wallet-backup of ~10,000 addresses is ~2 MB
	DefaultRequestTimeout   = 30 * time.Second
	DefaultWalletdTimeout   = 15 * time.Second
	DefaultCommitTimeout    = 10 * time.Second
	DefaultHoldTimeout      = 30 * time.Second
	// DefaultMaxImportKeys keeps an import well inside the walletd
	// timeout: walletd syncs its file once per key (≈ 40 ms here).
	DefaultMaxImportKeys = 100
)

// Options configure a Proxy. WalletdURL, Gate, Committer and ReadGate are
// required; zero values of the rest take the defaults above.
type Options struct {
	// WalletdURL is walletd's base URL (http://127.0.0.1:8089); /v2 is
	// appended unless the path already ends with it.
	WalletdURL string
	Gate       Gate
	Committer  Committer
	ReadGate   ReadGate
	// LeaderName returns the current leader's pod name ("" if unknown); a
	// follower puts it in the "not the leader" error as data.leader.
	LeaderName func() string
	Log        zerolog.Logger
	// Registerer receives the proxy's metrics; nil registers nothing.
	Registerer prometheus.Registerer
	// MaxBodyBytes bounds a request body (larger: HTTP 413).
	MaxBodyBytes int64
	// MaxResponseBytes bounds what is read from walletd.
	MaxResponseBytes int64
	// RequestTimeout bounds a request from its arrival until walletd has
	// answered, waiting for the write lock included.
	RequestTimeout time.Duration
	// WalletdTimeout bounds one call to walletd (within RequestTimeout).
	WalletdTimeout time.Duration
	// CommitTimeout bounds the commit of a write walletd has already done.
	// It starts when walletd answers and is not cut short by
	// RequestTimeout or by the client going away: a change walletd has made
	// gets its full chance to be committed.
	CommitTimeout time.Duration
	// HoldTimeout bounds how long a keystore write walletd has not
	// answered within WalletdTimeout keeps the write lock after its client
	// was told it timed out: walletd is still running it, and no other
	// write may run beside it. Once walletd answers (or this passes) the
	// write is taken back.
	HoldTimeout time.Duration
	// MaxImportKeys bounds the keys of one import-addresses or
	// import-identity-keys call (more: an invalid-params error, nothing
	// sent), so an import cannot outlast WalletdTimeout.
	MaxImportKeys int
	// Transport replaces the HTTP transport to walletd (tests).
	Transport http.RoundTripper
	// WalletdTLS is the client TLS config for an https WalletdURL
	// (walletd -wallettls).
	WalletdTLS *tls.Config
	// Auth checks each client's basic auth and role (see auth.go); nil
	// lets every client do everything but wallet-backup, as walletd does.
	Auth *Authenticator
	// AllowWalletBackup serves wallet-backup (admin role, leader only).
	AllowWalletBackup bool
	// WalletdUser and WalletdPassword are walletd's RPC credentials; when
	// set they replace whatever the client sent.
	WalletdUser, WalletdPassword string
}

// Proxy is the http.Handler serving POST /v2.
type Proxy struct {
	opts    Options
	target  string
	client  *retryablehttp.Client
	metrics *metrics
	log     zerolog.Logger
	// writeLock serialises every leader-only call (a channel so waiting for
	// it honours the request's context). walletd is not safe under parallel
	// keystore writes, and its transactions in progress are an unguarded map.
	writeLock chan struct{}
}

// New checks opts and returns the proxy.
func New(opts Options) (*Proxy, error) {
	target, err := walletdEndpoint(opts.WalletdURL)
	if err != nil {
		return nil, err
	}
	if opts.Gate == nil || opts.Committer == nil || opts.ReadGate == nil {
		return nil, errors.New("proxy: Gate, Committer and ReadGate are required")
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.MaxResponseBytes <= 0 {
		opts.MaxResponseBytes = DefaultMaxResponseBytes
	}
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = DefaultRequestTimeout
	}
	if opts.WalletdTimeout <= 0 {
		opts.WalletdTimeout = DefaultWalletdTimeout
	}
	if opts.CommitTimeout <= 0 {
		opts.CommitTimeout = DefaultCommitTimeout
	}
	if opts.HoldTimeout <= 0 {
		opts.HoldTimeout = DefaultHoldTimeout
	}
	if opts.MaxImportKeys <= 0 {
		opts.MaxImportKeys = DefaultMaxImportKeys
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, err
	}
	transport := opts.Transport
	if transport == nil {
		transport = &http.Transport{
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
			MaxIdleConns:        32,
			MaxIdleConnsPerHost: 32,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
			TLSClientConfig:     opts.WalletdTLS,
			TLSHandshakeTimeout: 5 * time.Second,
		}
	}
	rc := retryablehttp.NewClient()
	rc.Logger = nil
	rc.HTTPClient = &http.Client{Transport: transport}
	// Never retry: writes are not idempotent (a retried generate-* hands out
	// a second address), and the client decides whether to retry a read.
	rc.RetryMax = 0
	rc.CheckRetry = func(context.Context, *http.Response, error) (bool, error) { return false, nil }
	return &Proxy{
		opts:      opts,
		target:    target,
		client:    rc,
		metrics:   m,
		log:       opts.Log.With().Str("subsystem", "proxy").Logger(),
		writeLock: make(chan struct{}, 1),
	}, nil
}

// MaxRequestDuration is the longest a request can take (RequestTimeout plus
// CommitTimeout); the HTTP server's write timeout must be above it.
func (p *Proxy) MaxRequestDuration() time.Duration {
	return p.opts.RequestTimeout + p.opts.CommitTimeout
}

func walletdEndpoint(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("proxy: walletd URL: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("proxy: walletd URL %q: want http(s)://host:port", u.Redacted())
	}
	if !strings.HasSuffix(u.Path, "/v2") {
		u.Path = strings.TrimSuffix(u.Path, "/") + "/v2"
	}
	return u.String(), nil
}
