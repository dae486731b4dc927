package health

import (
	"flag"
	"fmt"
	"net"
	"net/url"
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
	// MaxEntryLag: most directory blocks whose entries the node may still
	// lack (max(leaderheight, directoryblockheight) − entryheight) and be ready.
	MaxEntryLag int
	// OutlierBlocks: a reference more than this many blocks above every other
	// source (reference or local) is ignored when choosing the network height.
	OutlierBlocks int

	PollInterval       time.Duration
	PollTimeout        time.Duration
	StaleAfter         time.Duration
	StallWindow        time.Duration
	UnresponsiveWindow time.Duration
	// MaxBlockAge bounds the current block's age; 0 follows the network:
	// BlockAgeBlocks block times by factomd's directoryblockinseconds.
	MaxBlockAge time.Duration
	// UnreadyAfterFailedPolls: this many consecutive polls without an answer
	// (timeout, refused) make the node not ready before StaleAfter; fewer
	// (one slow answer) do not.
	UnreadyAfterFailedPolls int
}

// Defaults. The block age bound follows the network's block time: three
// blocks, and three mainnet blocks (600 s each) until factomd has said.
const (
	DefaultFactomdURL              = "http://127.0.0.1:8088"
	DefaultPeerPort                = 8088
	DefaultMaxLag                  = 2
	DefaultMaxEntryLag             = 1
	DefaultUnreadyAfterFailedPolls = 2
	BlockAgeBlocks                 = 3
	DefaultOutlierBlocks           = 10
	DefaultPollInterval            = 2 * time.Second
	DefaultPollTimeout             = 1500 * time.Millisecond
	DefaultStaleAfter              = 10 * time.Second
	DefaultStallWindow             = 10 * time.Minute
	DefaultUnresponsiveWindow      = 2 * time.Minute
	DefaultMaxBlockAge             = BlockAgeBlocks * 600 * time.Second
)

// DefaultConfig returns the defaults. PodIP is left empty: the factomd
// mode fills it from POD_IP.
func DefaultConfig() Config {
	return Config{
		FactomdURL:              DefaultFactomdURL,
		PeerPort:                DefaultPeerPort,
		MaxLag:                  DefaultMaxLag,
		MaxEntryLag:             DefaultMaxEntryLag,
		OutlierBlocks:           DefaultOutlierBlocks,
		PollInterval:            DefaultPollInterval,
		PollTimeout:             DefaultPollTimeout,
		StaleAfter:              DefaultStaleAfter,
		StallWindow:             DefaultStallWindow,
		UnresponsiveWindow:      DefaultUnresponsiveWindow,
		UnreadyAfterFailedPolls: DefaultUnreadyAfterFailedPolls,
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
	fs.IntVar(&c.UnreadyAfterFailedPolls, "unready-after-failed-polls", c.UnreadyAfterFailedPolls, "this many consecutive polls that factomd does not answer (timeout, refused) make it not ready before --stale-after; one slow answer does not")
	fs.Var((*blockAge)(&c.MaxBlockAge), "max-block-age", "not ready when factomd's current block started longer ago than this; auto: 3 of the network's block times (directoryblockinseconds), 30m until factomd says")
}

// blockAge is --max-block-age: a positive duration, or "auto" (0).
type blockAge time.Duration

func (b *blockAge) String() string {
	if *b == 0 {
		return "auto"
	}
	return time.Duration(*b).String()
}

func (b *blockAge) Set(v string) error {
	if v == "auto" {
		*b = 0
		return nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return err
	}
	if d <= 0 {
		return fmt.Errorf("%s: must be positive (or auto)", d)
	}
	*b = blockAge(d)
	return nil
}

// RegisterReferenceFlags registers the flags about the network height.
func (c *Config) RegisterReferenceFlags(fs *flag.FlagSet) {
	fs.Var(&c.ReferenceURLs, "reference-url", "other factomd API to compare heights with (repeatable; env: comma-separated)")
	fs.StringVar(&c.PeerService, "peer-service", c.PeerService, "headless Service DNS name whose A records are peer factomd pods (optional)")
	fs.IntVar(&c.PeerPort, "peer-port", c.PeerPort, "factomd API port on the peers found through --peer-service")
	fs.StringVar(&c.PodIP, "pod-ip", c.PodIP, "this pod's IP, skipped among --peer-service records (default from POD_IP)")
	fs.IntVar(&c.MaxLag, "max-lag", c.MaxLag, "most blocks factomd may be behind the network and still be ready")
	fs.IntVar(&c.MaxEntryLag, "max-entry-lag", c.MaxEntryLag, "most blocks whose entries factomd may still lack (leaderheight − entryheight) and be ready")
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
	if c.MaxEntryLag < 0 {
		return config.Errorf("max-entry-lag", "%d: must not be negative", c.MaxEntryLag)
	}
	if c.UnreadyAfterFailedPolls < 1 {
		return config.Errorf("unready-after-failed-polls", "%d: must be at least 1", c.UnreadyAfterFailedPolls)
	}
	if c.MaxBlockAge < 0 {
		return config.Errorf("max-block-age", "%s: must be positive (or 0 for auto)", c.MaxBlockAge)
	}
	if c.OutlierBlocks < 1 {
		return config.Errorf("reference-outlier-blocks", "%d: must be at least 1", c.OutlierBlocks)
	}
	for _, d := range []struct {
		flag string
		v    time.Duration
	}{
		{"poll-interval", c.PollInterval}, {"poll-timeout", c.PollTimeout}, {"stale-after", c.StaleAfter},
		{"stall-window", c.StallWindow}, {"unresponsive-window", c.UnresponsiveWindow},
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

// BlockAgeBound is the block age bound for a node's observation: the flag
// when set, else BlockAgeBlocks of the block time the node reports.
func (c *Config) BlockAgeBound(blockSeconds int64) time.Duration {
	switch {
	case c.MaxBlockAge > 0:
		return c.MaxBlockAge
	case blockSeconds > 0:
		return BlockAgeBlocks * time.Duration(blockSeconds) * time.Second
	}
	return DefaultMaxBlockAge
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
