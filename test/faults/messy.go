package faults

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/FactomProject/factom"

	"github.com/factom-sidecar/factom-sidecar/test/faults/history"
)

// ClientKind names what a write of the workload looks like.
type ClientKind string

// The client kinds, in the order the summary line lists them. "polite" is
// today's fresh generate, import or remove; the others are the messy ones
// operators' own clients send.
const (
	Polite      ClientKind = "polite"       // generate, import a fresh key, remove an owned one
	Reimport    ClientKind = "reimport"     // import again a key that was acknowledged
	Partial     ClientKind = "partial"      // import-addresses [valid..., malformed]
	LargeImport ClientKind = "large-import" // an import of 60 keys (≈ 2.5 s on walletd) or 150 (over the proxy's bound)
	Malformed   ClientKind = "malformed"    // empty or malformed params for a keystore method
)

// ClientKinds lists every kind.
var ClientKinds = []ClientKind{Polite, Reimport, Partial, LargeImport, Malformed}

// kindCounts counts the writes sent, by client kind.
type kindCounts struct {
	mu sync.Mutex
	n  map[ClientKind]int
}

func (k *kindCounts) add(kind ClientKind) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.n == nil {
		k.n = map[ClientKind]int{}
	}
	k.n[kind]++
}

func (k *kindCounts) snapshot() map[ClientKind]int {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := map[ClientKind]int{}
	for kind, n := range k.n {
		out[kind] = n
	}
	return out
}

func countsLine(n map[ClientKind]int) string {
	var f []string
	for _, k := range ClientKinds {
		f = append(f, fmt.Sprintf("%s=%d", k, n[k]))
	}
	return strings.Join(f, " ")
}

// freshAddress is a random FCT or EC key pair: secret, public.
func freshAddress(rng *rand.Rand) (string, string) {
	secret := make([]byte, 32)
	for i := range secret {
		secret[i] = byte(rng.UintN(256))
	}
	if rng.IntN(2) == 0 {
		a, err := factom.MakeFactoidAddress(secret)
		if err != nil {
			panic(fmt.Sprintf("factoid address from 32 bytes: %v", err))
		}
		return a.SecString(), a.String()
	}
	a, err := factom.MakeECAddress(secret)
	if err != nil {
		panic(fmt.Sprintf("EC address from 32 bytes: %v", err))
	}
	return a.SecString(), a.String()
}

// malformedCalls are empty and malformed params for every keystore method.
var malformedCalls = []struct {
	method string
	params string
}{
	{"generate-ec-address", `[]`},
	{"generate-factoid-address", `{"unexpected":true}`},
	{"generate-identity-key", `{}`},
	{"import-addresses", `{}`},
	{"import-addresses", `{"addresses":"x"}`},
	{"import-addresses", `{"addresses":[{"secret":""}]}`},
	{"import-addresses", `{"addresses":[]}`},
	{"import-koinify", `{}`},
	{"import-koinify", `{"words":"not twelve koinify words"}`},
	{"import-identity-keys", `{}`},
	{"import-identity-keys", `{"keys":[{"secret":"idsec-not-a-key"}]}`},
	{"remove-address", `{}`},
	{"remove-address", `{"address":""}`},
	{"remove-address", `{"address":"FA-not-an-address"}`},
	{"remove-identity-key", `{}`},
	{"remove-identity-key", `{"public":"idpub-not-a-key"}`},
}

// messy sends one write of a messy kind and records what the history can
// check; false when there was no replica to send it to.
func (c *Client) messy(kind ClientKind) bool {
	pod, url, ok := c.w.router.Pick(c.rng)
	if !ok {
		return false
	}
	c.w.kinds.add(kind)
	record := func(op history.Op, res result) {
		op.Acked, op.Refused, op.Err = res.acked, res.refused, res.err
		if res.termKnown {
			op.Term, op.TermKnown = res.term, true
		}
		c.w.rec.Add(op)
	}
	start := time.Now()
	switch kind {
	case Reimport:
		public, secret, ok := c.own.takeImported(c.rng)
		if !ok {
			return c.WriteOnce()
		}
		res := c.w.call(url, "import-addresses", map[string]any{"addresses": []map[string]string{{"secret": secret}}})
		op := history.Op{Client: c.ID, Replica: pod, Kind: history.Import, Method: "import-addresses", Key: public, Start: start, End: time.Now()}
		record(op, res)
		c.own.addImported(public, secret) // acknowledged before: still owned whatever this answer
	case Partial, LargeImport:
		n := 1 + c.rng.IntN(3)
		if kind == LargeImport {
			n = []int{60, 150}[c.rng.IntN(2)]
		}
		var list []map[string]string
		var keys [][2]string
		for range n {
			sec, pub := freshAddress(c.rng)
			c.w.secrets.add(sec)
			list = append(list, map[string]string{"secret": sec})
			keys = append(keys, [2]string{pub, sec})
		}
		if kind == Partial {
			list = append(list, map[string]string{"secret": "Fs-malformed"})
		}
		res := c.w.call(url, "import-addresses", map[string]any{"addresses": list})
		end := time.Now()
		for _, k := range keys {
			record(history.Op{Client: c.ID, Replica: pod, Kind: history.Import, Method: "import-addresses", Key: k[0], Start: start, End: end}, res)
			if res.acked {
				c.own.add(k[0])
				c.own.addImported(k[0], k[1])
			}
		}
	case Malformed:
		m := malformedCalls[c.rng.IntN(len(malformedCalls))]
		res := c.w.call(url, m.method, json.RawMessage(m.params))
		if op := (history.Op{Client: c.ID, Replica: pod, Kind: history.Generate, Method: m.method, Start: start, End: time.Now()}); strings.HasPrefix(m.method, "generate-") {
			// walletd ignores a generate's params: it is a generate like any.
			if res.acked {
				var k struct {
					Public string `json:"public"`
				}
				if err := json.Unmarshal(res.result, &k); err != nil || k.Public == "" {
					res.err = fmt.Sprintf("acknowledged with an unreadable result: %s", res.result)
				}
				op.Key = k.Public
			}
			record(op, res)
		}
		// The other malformed calls name no key the history could follow;
		// whatever they leave behind shows up in the final keystores.
	}
	return true
}

// takeImported removes and returns one owned imported key with its secret.
func (o *owned) takeImported(rng *rand.Rand) (string, string, bool) {
	if len(o.imported) == 0 {
		return "", "", false
	}
	pubs := make([]string, 0, len(o.imported))
	for p := range o.imported {
		pubs = append(pubs, p)
	}
	sort.Strings(pubs) // map order is random; the seed decides
	p := pubs[rng.IntN(len(pubs))]
	s := o.imported[p]
	delete(o.imported, p)
	return p, s, true
}

func (o *owned) addImported(public, secret string) {
	if o.imported == nil {
		o.imported = map[string]string{}
	}
	o.imported[public] = secret
}
