package testenv

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/factom-sidecar/factom-sidecar/internal/jsonrpc"
)

// The audit-log path of an application on Factom, against a walletd (or
// the sidecar's proxy in front of one) and a factomd of a LOCAL network:
// buy entry credits with the factoid key the LOCAL genesis block funds,
// create a chain, write entries (compose through walletd, commit and reveal
// to factomd), and check that they are on the chain. Every function takes
// the walletd or proxy URL and the factomd URL (with or without /v2).

// LocalFundedFactoidSecret is the factoid key the LOCAL network's genesis
// block funds with 20,000 FCT (factomd common/factoid/genesisBlockNew.go:
// the "sand" address FA2jK2HcLnRdS94dEcU27rF3meoJfpUcZPSinpb7AwQvPRY6RL1Q).
// It is public test material, never a real key.
const LocalFundedFactoidSecret = "Fs3E9gV6DXsYzf7Fqx1fVBQPQXV695eP3k5XbmHEZVRLkMdD9qCK"

// LocalFundedFactoidAddress is its public address.
const LocalFundedFactoidAddress = "FA2jK2HcLnRdS94dEcU27rF3meoJfpUcZPSinpb7AwQvPRY6RL1Q"

// auditTransport is shared by every audit-log client, so parallel writers
// reuse connections.
var auditTransport = &http.Transport{
	Proxy:               nil,
	DialContext:         (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
	MaxIdleConns:        256,
	MaxIdleConnsPerHost: 64,
	IdleConnTimeout:     90 * time.Second,
}

var auditClients sync.Map // endpoint → *jsonrpc.Client

func auditClient(raw string) *jsonrpc.Client {
	u := strings.TrimRight(raw, "/")
	if !strings.HasSuffix(u, "/v2") {
		u += "/v2"
	}
	if c, ok := auditClients.Load(u); ok {
		return c.(*jsonrpc.Client)
	}
	c, _ := auditClients.LoadOrStore(u, jsonrpc.New(u, jsonrpc.Options{Timeout: 30 * time.Second, Transport: auditTransport}))
	return c.(*jsonrpc.Client)
}

// composed is what walletd's compose-* return: two factomd requests.
type composed struct {
	Commit struct {
		Method string          `json:"method"`
		Params json.RawMessage `json:"params"`
	} `json:"commit"`
	Reveal struct {
		Method string          `json:"method"`
		Params json.RawMessage `json:"params"`
	} `json:"reveal"`
}

// submit sends a composed commit and reveal to factomd. It returns the
// reveal's answer: factomd has accepted the entry. despiteCommit sends the
// reveal even when factomd refuses the commit (a resend: the network may
// hold the commit already while the reveal was lost).
func (c composed) submit(ctx context.Context, factomdURL string, despiteCommit bool) (revealed, error) {
	f := auditClient(factomdURL)
	if c.Commit.Method == "" || c.Reveal.Method == "" {
		return revealed{}, errors.New("compose: walletd returned no commit or reveal")
	}
	var commitErr error
	if err := f.Call(ctx, c.Commit.Method, c.Commit.Params, nil); err != nil {
		commitErr = fmt.Errorf("%s: %w", c.Commit.Method, err)
		if !despiteCommit {
			return revealed{}, commitErr
		}
	}
	var r revealed
	if err := f.Call(ctx, c.Reveal.Method, c.Reveal.Params, &r); err != nil {
		return revealed{}, errors.Join(fmt.Errorf("%s: %w", c.Reveal.Method, err), commitErr)
	}
	if r.EntryHash == "" {
		return revealed{}, fmt.Errorf("%s: no entryhash in the answer", c.Reveal.Method)
	}
	return r, nil
}

type revealed struct {
	EntryHash string `json:"entryhash"`
	ChainID   string `json:"chainid"`
}

func hexAll(bs [][]byte) []string {
	out := make([]string, len(bs))
	for i, b := range bs {
		out[i] = hex.EncodeToString(b)
	}
	return out
}

// NewFundedECAddress generates an entry-credit address in walletd and buys
// ec entry credits for it with the LOCAL network's funded factoid key
// (imported into walletd first), then waits until factomd shows them.
func NewFundedECAddress(ctx context.Context, walletURL, factomdURL string, ec uint64) (string, error) {
	var addr struct {
		Public string `json:"public"`
	}
	if err := auditClient(walletURL).Call(ctx, "generate-ec-address", nil, &addr); err != nil {
		return "", fmt.Errorf("generate-ec-address: %w", err)
	}
	if err := BuyEntryCredits(ctx, walletURL, factomdURL, addr.Public, ec); err != nil {
		return "", err
	}
	return addr.Public, nil
}

// BuyEntryCredits buys ec entry credits for ecPublic with the LOCAL
// network's funded factoid key, the way an application does (new-transaction,
// add-input, add-ec-output, add-fee, sign-transaction, compose-transaction,
// then factoid-submit to factomd), and waits until factomd shows the balance.
func BuyEntryCredits(ctx context.Context, walletURL, factomdURL, ecPublic string, ec uint64) error {
	w, f := auditClient(walletURL), auditClient(factomdURL)
	imp := map[string]any{"addresses": []map[string]string{{"secret": LocalFundedFactoidSecret}}}
	if err := w.Call(ctx, "import-addresses", imp, nil); err != nil {
		return fmt.Errorf("import the funded factoid key: %w", err)
	}
	// A LOCAL network sets its rate with its first block.
	var rate struct {
		Rate uint64 `json:"rate"`
	}
	err := pollUntil(ctx, 200*time.Millisecond, func() (bool, error) {
		err := f.Call(ctx, "entry-credit-rate", nil, &rate)
		return err == nil && rate.Rate > 0, fmt.Errorf("entry-credit-rate %d: %v", rate.Rate, err)
	})
	if err != nil {
		return err
	}
	before, err := ECBalance(ctx, factomdURL, ecPublic)
	if err != nil {
		return err
	}
	name := fmt.Sprintf("buy-ec-%d", time.Now().UnixNano())
	amount := ec * rate.Rate // factoshis
	steps := []struct {
		method string
		params map[string]any
	}{
		{"new-transaction", map[string]any{"tx-name": name}},
		{"add-input", map[string]any{"tx-name": name, "address": LocalFundedFactoidAddress, "amount": amount}},
		{"add-ec-output", map[string]any{"tx-name": name, "address": ecPublic, "amount": amount}},
		{"add-fee", map[string]any{"tx-name": name, "address": LocalFundedFactoidAddress}},
		{"sign-transaction", map[string]any{"tx-name": name}},
	}
	for _, s := range steps {
		if err := w.Call(ctx, s.method, s.params, nil); err != nil {
			_ = w.Call(ctx, "delete-transaction", map[string]any{"tx-name": name}, nil)
			return fmt.Errorf("%s: %w", s.method, err)
		}
	}
	var submit struct {
		Method string          `json:"method"`
		Params json.RawMessage `json:"params"`
	}
	if err := w.Call(ctx, "compose-transaction", map[string]any{"tx-name": name}, &submit); err != nil {
		return fmt.Errorf("compose-transaction: %w", err)
	}
	_ = w.Call(ctx, "delete-transaction", map[string]any{"tx-name": name}, nil)
	if err := f.Call(ctx, submit.Method, submit.Params, nil); err != nil {
		return fmt.Errorf("%s: %w", submit.Method, err)
	}
	return pollUntil(ctx, 200*time.Millisecond, func() (bool, error) {
		b, err := ECBalance(ctx, factomdURL, ecPublic)
		return err == nil && b >= before+int64(ec), fmt.Errorf("entry-credit balance %d, waiting for %d: %v", b, before+int64(ec), err)
	})
}

// ECBalance is factomd's entry-credit balance of ecPublic.
func ECBalance(ctx context.Context, factomdURL, ecPublic string) (int64, error) {
	var b struct {
		Balance int64 `json:"balance"`
	}
	if err := auditClient(factomdURL).Call(ctx, "entry-credit-balance", map[string]string{"address": ecPublic}, &b); err != nil {
		return 0, fmt.Errorf("entry-credit-balance: %w", err)
	}
	return b.Balance, nil
}

// CreateChain composes a chain whose first entry has extIDs and content,
// paid by ecPublic, sends it to factomd and waits until factomd knows the
// chain (compose-entry on it then succeeds). It returns the chain ID.
func CreateChain(ctx context.Context, walletURL, factomdURL, ecPublic string, content []byte, extIDs ...[]byte) (string, error) {
	params := map[string]any{
		"chain": map[string]any{"firstentry": map[string]any{"extids": hexAll(extIDs), "content": hex.EncodeToString(content)}},
		"ecpub": ecPublic,
	}
	// compose-chain checks the balance in the factomd walletd uses, which
	// behind a Service may be another node than the one that showed the
	// credits: retry, as a client would, until it sees them.
	var c composed
	err := pollUntil(ctx, 500*time.Millisecond, func() (bool, error) {
		err := auditClient(walletURL).Call(ctx, "compose-chain", params, &c)
		return err == nil, fmt.Errorf("compose-chain: %w", err)
	})
	if err != nil {
		return "", err
	}
	r, err := c.submit(ctx, factomdURL, false)
	if err != nil {
		return "", err
	}
	if r.ChainID == "" {
		return "", errors.New("reveal-chain: no chainid in the answer")
	}
	err = pollUntil(ctx, 200*time.Millisecond, func() (bool, error) {
		err := auditClient(factomdURL).Call(ctx, "chain-head", map[string]string{"chainid": r.ChainID}, nil)
		return err == nil, fmt.Errorf("chain-head %s: %w", r.ChainID, err)
	})
	return r.ChainID, err
}

// WriteEntry composes one entry through walletURL (a walletd or a proxy),
// commits and reveals it to factomd, and returns its entry hash once
// factomd has accepted the reveal.
func WriteEntry(ctx context.Context, walletURL, factomdURL, ecPublic, chainID string, content []byte, extIDs ...[]byte) (string, error) {
	c, err := ComposeEntry(ctx, walletURL, ecPublic, chainID, content, extIDs...)
	if err != nil {
		return "", err
	}
	return c.Submit(ctx, factomdURL)
}

// ComposedEntry is a composed entry, ready to be sent to factomd.
type ComposedEntry struct{ c composed }

// Submit sends the commit and the reveal to factomd and returns the entry hash.
func (e ComposedEntry) Submit(ctx context.Context, factomdURL string) (string, error) {
	r, err := e.c.submit(ctx, factomdURL, false)
	return r.EntryHash, err
}

// Resubmit sends the commit and the reveal again, for an entry the
// network does not know: the reveal goes even when factomd refuses the
// commit, which it may hold already while the reveal was lost.
func (e ComposedEntry) Resubmit(ctx context.Context, factomdURL string) error {
	_, err := e.c.submit(ctx, factomdURL, true)
	return err
}

// ComposeEntry asks walletURL to compose one entry (compose-entry, which
// checks the balance and the chain in factomd).
func ComposeEntry(ctx context.Context, walletURL, ecPublic, chainID string, content []byte, extIDs ...[]byte) (ComposedEntry, error) {
	params := map[string]any{
		"entry": map[string]any{"chainid": chainID, "extids": hexAll(extIDs), "content": hex.EncodeToString(content)},
		"ecpub": ecPublic,
	}
	var c composed
	if err := auditClient(walletURL).Call(ctx, "compose-entry", params, &c); err != nil {
		return ComposedEntry{}, fmt.Errorf("compose-entry: %w%s", err, composeDetail(err))
	}
	return ComposedEntry{c}, nil
}

// EntryAcknowledged reports whether the network acknowledged an entry's
// reveal (factomd's ack: TransactionACK, or DBlockConfirmed once it is in
// a saved block). A node's "Entry Reveal Success" only says the node took
// the reveal: a node killed before it passed the reveal on loses it, and
// an audit-log client counts an entry as written once it is acknowledged.
func EntryAcknowledged(ctx context.Context, factomdURL, chainID, entryHash string) (bool, error) {
	var st struct {
		EntryData struct {
			Status string `json:"status"`
		} `json:"entrydata"`
	}
	if err := auditClient(factomdURL).Call(ctx, "ack", map[string]string{"hash": entryHash, "chainid": chainID}, &st); err != nil {
		return false, fmt.Errorf("ack %s: %w", entryHash, err)
	}
	switch st.EntryData.Status {
	case "TransactionACK", "DBlockConfirmed":
		return true, nil
	}
	return false, nil
}

// ChainEntry is one entry in a saved entry block of a chain.
type ChainEntry struct {
	Hash string
	// DBHeight is the directory block the entry landed in.
	DBHeight int64
}

// ChainEntries walks a chain's saved entry blocks from its head back to its
// first, and returns every entry, oldest first; an entry written twice is
// listed twice. Entries not yet in a saved block are not listed.
func ChainEntries(ctx context.Context, factomdURL, chainID string) ([]ChainEntry, error) {
	return newChainReader(factomdURL, chainID).entries(ctx)
}

// chainReader reads a chain again and again, fetching each entry block
// once: a saved entry block never changes, so a walk from the head stops
// at the first block it has seen.
type chainReader struct {
	client *jsonrpc.Client
	chain  string
	blocks map[string]entryBlock // keymr → block
}

type entryBlock struct {
	prev    string
	entries []ChainEntry
}

func newChainReader(factomdURL, chainID string) *chainReader {
	return &chainReader{client: auditClient(factomdURL), chain: chainID, blocks: map[string]entryBlock{}}
}

func (r *chainReader) entries(ctx context.Context) ([]ChainEntry, error) {
	var head struct {
		ChainHead string `json:"chainhead"`
	}
	if err := r.client.Call(ctx, "chain-head", map[string]string{"chainid": r.chain}, &head); err != nil {
		return nil, fmt.Errorf("chain-head: %w", err)
	}
	var newest []string // keymrs, head first
	for keymr := head.ChainHead; !isZeroKeyMR(keymr); {
		b, ok := r.blocks[keymr]
		if !ok {
			var err error
			if b, err = r.fetch(ctx, keymr); err != nil {
				return nil, err
			}
			r.blocks[keymr] = b
		}
		newest = append(newest, keymr)
		keymr = b.prev
	}
	var out []ChainEntry
	for i := len(newest) - 1; i >= 0; i-- {
		out = append(out, r.blocks[newest[i]].entries...)
	}
	return out, nil
}

func (r *chainReader) fetch(ctx context.Context, keymr string) (entryBlock, error) {
	var eb struct {
		Header struct {
			PrevKeyMR string `json:"prevkeymr"`
			DBHeight  int64  `json:"dbheight"`
		} `json:"header"`
		EntryList []struct {
			EntryHash string `json:"entryhash"`
		} `json:"entrylist"`
	}
	if err := r.client.Call(ctx, "entry-block", map[string]string{"keymr": keymr}, &eb); err != nil {
		return entryBlock{}, fmt.Errorf("entry-block %s: %w", keymr, err)
	}
	b := entryBlock{prev: eb.Header.PrevKeyMR}
	for _, e := range eb.EntryList {
		b.entries = append(b.entries, ChainEntry{Hash: e.EntryHash, DBHeight: eb.Header.DBHeight})
	}
	return b, nil
}

func isZeroKeyMR(keymr string) bool { return strings.Trim(keymr, "0") == "" }

// chainReadTimeout bounds one walk of the chain, so a factomd that stops
// answering for a while (restarting, or behind a Service that still
// routes to it) costs one attempt and not the whole wait; the next
// attempt opens a new connection and may reach another node.
const chainReadTimeout = 15 * time.Second

// WaitOnChain waits until every hash is in a saved entry block of the
// chain, and returns the chain's entries then. It fails when ctx ends
// first, naming how many entries were missing at the last complete read
// of the chain and the last read error.
func WaitOnChain(ctx context.Context, factomdURL, chainID string, hashes []string) ([]ChainEntry, error) {
	reader := newChainReader(factomdURL, chainID)
	var entries []ChainEntry
	missing := "the chain was never read"
	var readErr error
	err := pollUntil(ctx, 500*time.Millisecond, func() (bool, error) {
		attempt, cancel := context.WithTimeout(ctx, chainReadTimeout)
		es, err := reader.entries(attempt)
		cancel()
		if err != nil {
			readErr = err
			return false, waitOnChainReason(missing, readErr)
		}
		entries = es
		on := map[string]bool{}
		for _, e := range es {
			on[e.Hash] = true
		}
		var absent []string
		for _, h := range hashes {
			if !on[h] {
				absent = append(absent, h)
			}
		}
		if len(absent) == 0 {
			return true, nil
		}
		missing = fmt.Sprintf("%d of %d entries not on chain %s (%d saved entries read), first missing %s", len(absent), len(hashes), chainID, len(es), absent[0])
		return false, waitOnChainReason(missing, readErr)
	})
	return entries, err
}

func waitOnChainReason(missing string, readErr error) error {
	if readErr == nil {
		return errors.New(missing)
	}
	return fmt.Errorf("%s; last read error: %w", missing, readErr)
}

// pollUntil calls cond every interval until it reports done or ctx ends;
// then the last reason cond gave is returned.
func pollUntil(ctx context.Context, interval time.Duration, cond func() (bool, error)) error {
	var why error
	err := wait.PollUntilContextCancel(ctx, interval, true, func(context.Context) (bool, error) {
		done, reason := cond()
		why = reason
		return done, nil
	})
	if err != nil {
		return fmt.Errorf("%w: %v", err, why)
	}
	return nil
}

// composeDetail is walletd's reason for a failed compose-*: it answers
// every failure (a key it lacks, factomd unreachable) as -32603 "Internal
// error" with the reason in data. compose-* carry no secret, so the reason
// may be shown.
func composeDetail(err error) string {
	var re *jsonrpc.RPCError
	if !errors.As(err, &re) || len(re.Data) == 0 {
		return ""
	}
	var reason string
	if json.Unmarshal(re.Data, &reason) != nil {
		reason = string(re.Data)
	}
	if len(reason) > 200 {
		reason = reason[:200]
	}
	return " (" + reason + ")"
}
