package health

import (
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/factom-sidecar/factom-sidecar/internal/config"
)

// Config says which factomd to watch, what to compare it with and how
// strict the verdicts are. Start from DefaultConfig: flags registered on it
// take its values as their defaults.
type Config struct {
	// FactomdURL is the local factomd API (with or without the /v2 path).
	FactomdURL string
	// ReferenceURLs are other factomd APIs whose heights make up the network height.
	ReferenceURLs config.StringList
	// PeerService is a headless Service name whose A records are the peers'
	// APIs on PeerPort; resolved on every poll.
	PeerService string
	PeerPort    int
	// PodIP is this pod's address, skipped among the peer service's records.
	PodIP string

	MaxLag int
	// OutlierBlocks: a reference more than this many blocks above every other
	// source (reference or local) is ignored when choosing the network height.
	OutlierBlocks int

	PollInterval       time.Duration
	PollTimeout        time.Duration
	StaleAfter         time.Duration
	StallWindow        time.Duration
	UnresponsiveWindow time.Duration
	MaxBlockAge        time.Duration
}

// Defaults. The block age bound is three mainnet blocks (600 s each).
const (
	DefaultFactomdURL         = "http://127.0.0.1:8088"
	DefaultPeerPort           = 8088
	DefaultMaxLag             = 2
	DefaultOutlierBlocks      = 10
	DefaultPollInterval       = 2 * time.Second
	DefaultPollTimeout        = 1500 * time.Millisecond
	DefaultStaleAfter         = 10 * time.Second
	DefaultStallWindow        = 10 * time.Minute
	DefaultUnresponsiveWindow = 2 * time.Minute
	DefaultMaxBlockAge        = 30 * time.Minute
)

// DefaultConfig returns the defaults; PodIP comes from POD_IP.
func DefaultConfig() Config {
	return Config{
		FactomdURL:         DefaultFactomdURL,
		PeerPort:           DefaultPeerPort,
		PodIP:              os.Getenv("POD_IP"),
		MaxLag:             DefaultMaxLag,
		OutlierBlocks:      DefaultOutlierBlocks,
		PollInterval:       DefaultPollInterval,
		PollTimeout:        DefaultPollTimeout,
		StaleAfter:         DefaultStaleAfter,
		StallWindow:        DefaultStallWindow,
		UnresponsiveWindow: DefaultUnresponsiveWindow,
		MaxBlockAge:        DefaultMaxBlockAge,
	}
}

// RegisterFlags registers every health flag.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	c.RegisterFactomdFlags(fs)
	c.RegisterReferenceFlags(fs)
}

// RegisterFactomdFlags registers the flags about the local factomd and the
// timing of polls and verdicts (what walletd mode needs for the factomd it uses).
func (c *Config) RegisterFactomdFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.FactomdURL, "factomd-url", c.FactomdURL, "factomd API URL (the /v2 path is added when missing)")
	fs.DurationVar(&c.PollInterval, "poll-interval", c.PollInterval, "how often factomd and the references are polled")
	fs.DurationVar(&c.PollTimeout, "poll-timeout", c.PollTimeout, "timeout of each JSON-RPC call; must be below --poll-interval")
	fs.DurationVar(&c.StaleAfter, "stale-after", c.StaleAfter, "without a successful poll for this long, readiness reports stale; must exceed --poll-interval")
	fs.DurationVar(&c.StallWindow, "stall-window", c.StallWindow, "liveness fails when the height has not advanced for this long while behind a moving network (or stalldetected)")
	fs.DurationVar(&c.UnresponsiveWindow, "unresponsive-window", c.UnresponsiveWindow, "liveness fails when factomd's API has not answered for this long")
	fs.DurationVar(&c.MaxBlockAge, "max-block-age", c.MaxBlockAge, "not ready when factomd's current block started longer ago than this (about 3 block times)")
}

// RegisterReferenceFlags registers the flags about the network height.
func (c *Config) RegisterReferenceFlags(fs *flag.FlagSet) {
	fs.Var(&c.ReferenceURLs, "reference-url", "other factomd API to compare heights with (repeatable; env: comma-separated)")
	fs.StringVar(&c.PeerService, "peer-service", c.PeerService, "headless Service DNS name whose A records are peer factomd pods (optional)")
	fs.IntVar(&c.PeerPort, "peer-port", c.PeerPort, "factomd API port on the peers found through --peer-service")
	fs.StringVar(&c.PodIP, "pod-ip", c.PodIP, "this pod's IP, skipped among --peer-service records (default from POD_IP)")
	fs.IntVar(&c.MaxLag, "max-lag", c.MaxLag, "most blocks factomd may be behind the network and still be ready")
	fs.IntVar(&c.OutlierBlocks, "reference-outlier-blocks", c.OutlierBlocks, "a reference this many blocks above every other source is ignored")
}

// Validate reports the first bad setting as an error naming its flag.
func (c *Config) Validate() error {
	if err := config.HTTPURL("factomd-url", c.FactomdURL); err != nil {
		return err
	}
	for _, u := range c.ReferenceURLs {
		if err := config.HTTPURL("reference-url", u); err != nil {
			return err
		}
	}
	if c.PeerService != "" && strings.ContainsAny(c.PeerService, "/: ") {
		return config.Errorf("peer-service", "%q: want a DNS name such as factomd.ns.svc.cluster.local", c.PeerService)
	}
	if c.PeerPort < 1 || c.PeerPort > 65535 {
		return config.Errorf("peer-port", "%d: want 1-65535", c.PeerPort)
	}
	if c.PodIP != "" && net.ParseIP(c.PodIP) == nil {
		return config.Errorf("pod-ip", "%q: not an IP address", c.PodIP)
	}
	if c.MaxLag < 0 {
		return config.Errorf("max-lag", "%d: must not be negative", c.MaxLag)
	}
	if c.OutlierBlocks < 1 {
		return config.Errorf("reference-outlier-blocks", "%d: must be at least 1", c.OutlierBlocks)
	}
	for _, d := range []struct {
		flag string
		v    time.Duration
	}{
		{"poll-interval", c.PollInterval}, {"poll-timeout", c.PollTimeout}, {"stale-after", c.StaleAfter},
		{"stall-window", c.StallWindow}, {"unresponsive-window", c.UnresponsiveWindow}, {"max-block-age", c.MaxBlockAge},
	} {
		if d.v <= 0 {
			return config.Errorf(d.flag, "%s: must be positive", d.v)
		}
	}
	// A call that outlives the interval would stack polls behind a hung factomd.
	if c.PollTimeout >= c.PollInterval {
		return config.Errorf("poll-timeout", "%s: must be below --poll-interval (%s)", c.PollTimeout, c.PollInterval)
	}
	// Shorter than one interval, every verdict would flap to stale between polls.
	if c.StaleAfter <= c.PollInterval {
		return config.Errorf("stale-after", "%s: must exceed --poll-interval (%s)", c.StaleAfter, c.PollInterval)
	}
	if c.UnresponsiveWindow <= c.PollInterval {
		return config.Errorf("unresponsive-window", "%s: must exceed --poll-interval (%s)", c.UnresponsiveWindow, c.PollInterval)
	}
	if c.StallWindow <= c.PollInterval {
		return config.Errorf("stall-window", "%s: must exceed --poll-interval (%s)", c.StallWindow, c.PollInterval)
	}
	return nil
}

// APIURL turns a factomd base URL into its JSON-RPC endpoint: the /v2 path
// is added unless the URL already ends with it.
func APIURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("factomd url %q: %w", raw, err)
	}
	p := strings.TrimRight(u.Path, "/")
	if !strings.HasSuffix(p, "/v2") {
		p += "/v2"
	}
	u.Path = p
	return u.String(), nil
}
