package proxy

// Class is how the proxy treats a walletd method.
type Class int

// The method classes; see the package documentation.
const (
	ClassUnknown Class = iota
	ClassRead
	ClassKeystore
	ClassTransaction
	ClassUnlock
	ClassCompose
)

// String is the class's label in logs and metrics.
func (c Class) String() string {
	switch c {
	case ClassRead:
		return "read"
	case ClassKeystore:
		return "keystore"
	case ClassTransaction:
		return "transaction"
	case ClassUnlock:
		return "unlock"
	case ClassCompose:
		return "compose"
	default:
		return "unknown"
	}
}

// LeaderOnly reports whether the class is served by the writable leader
// only, serialised with every other leader-only request.
func (c Class) LeaderOnly() bool { return c != ClassRead && c != ClassCompose }

// Committed reports whether a successful call must be committed to the
// replicated store before it is acknowledged. Unknown methods are committed
// too: if a walletd ever returns a result for them, it may have changed the
// keystore.
func (c Class) Committed() bool { return c == ClassKeystore || c == ClassUnknown }

// methods lists every method of walletd v2.4.2 (wsapi.handleV2Request).
var methods = map[string]Class{
	// Keystore: changes what wallet-backup returns.
	"generate-ec-address":      ClassKeystore,
	"generate-factoid-address": ClassKeystore,
	"generate-identity-key":    ClassKeystore,
	"import-addresses":         ClassKeystore,
	"import-koinify":           ClassKeystore,
	"import-identity-keys":     ClassKeystore,
	"remove-address":           ClassKeystore,
	"remove-identity-key":      ClassKeystore,

	// Transactions in progress live in walletd's memory (an unguarded map):
	// building, reading and composing them happens on one replica, serialised.
	"new-transaction":     ClassTransaction,
	"delete-transaction":  ClassTransaction,
	"add-input":           ClassTransaction,
	"add-output":          ClassTransaction,
	"add-ec-output":       ClassTransaction,
	"add-fee":             ClassTransaction,
	"sub-fee":             ClassTransaction,
	"sign-transaction":    ClassTransaction,
	"tmp-transactions":    ClassTransaction,
	"transaction-hash":    ClassTransaction,
	"compose-transaction": ClassTransaction,

	// The other compose-* sign a commit with a replicated key and look
	// things up in factomd; they store nothing in walletd and touch no
	// transaction in progress. Entry credits are spent by factomd when the
	// commit lands, not by walletd, so any in-sync replica may compose, in
	// parallel, outside the write lock.
	"compose-chain":                          ClassCompose,
	"compose-entry":                          ClassCompose,
	"compose-identity-chain":                 ClassCompose,
	"compose-identity-key-replacement":       ClassCompose,
	"compose-identity-attribute":             ClassCompose,
	"compose-identity-attribute-endorsement": ClassCompose,

	// Unlocking is per-walletd session state; the client talks to the leader.
	"unlock-wallet": ClassUnlock,

	// Reads: the keystore, walletd's own data and factomd look-ups.
	"address":              ClassRead,
	"all-addresses":        ClassRead,
	"identity-key":         ClassRead,
	"all-identity-keys":    ClassRead,
	"active-identity-keys": ClassRead,
	"properties":           ClassRead,
	"get-height":           ClassRead,
	"transactions":         ClassRead,
	"wallet-balances":      ClassRead,
	// The seed and every secret: a read, served like walletd serves it;
	// results are never logged.
	"wallet-backup": ClassRead,
	// ed25519 signatures are deterministic: any in-sync replica holds the key
	// and gives the same answer, and nothing changes.
	"sign-data": ClassRead,
}

// Classify returns the class of a walletd method. Names are case-sensitive,
// as walletd's are; anything unknown is ClassUnknown (treated as a write).
func Classify(method string) Class {
	return methods[method]
}
