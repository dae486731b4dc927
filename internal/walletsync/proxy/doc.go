// Package proxy is the write-gating JSON-RPC proxy in front of the pod's
// walletd: writes go to the leader only, one at a time, and a keystore write
// is acknowledged only after it has been committed to the replicated store.
//
// # Method classes
//
// Classify sorts every method of walletd's /v2 API (wallet v2.4.2, wsapi's
// handleV2Request) into one class:
//
//   - ClassKeystore (generate-*, import-*, remove-*): leader only, serialised,
//     committed through the Committer before the reply.
//   - ClassTransaction (new-transaction, add-*, sub-fee, sign-transaction,
//     delete-transaction, tmp-transactions, transaction-hash,
//     compose-transaction): leader only, serialised, not committed. walletd
//     keeps transactions in progress in memory in a plain Go map, so even
//     reading them races with building them; they are not replicated, and a
//     failover loses them. A client continuing one on a new leader gets
//     -32014, which says to rebuild it from new-transaction.
//   - ClassCompose (compose-chain, compose-entry, compose-identity-*): a
//     read. They sign a commit with a replicated key and look things up in
//     factomd, and store nothing in walletd: any in-sync replica serves
//     them, in parallel and outside the write lock. This is an audit-log
//     writer's hot path.
//   - ClassUnlock (unlock-wallet): leader only, serialised, not committed.
//   - ClassRead (address, all-addresses, properties, wallet-backup,
//     sign-data, ...): any replica whose ReadGate reports it in sync.
//     wallet-backup, which returns the seed, is the exception: it is off
//     unless Options.AllowWalletBackup, and then served by the leader only,
//     under the write lock. Like every result it is never logged.
//   - ClassUnknown: any other name. Treated as a write: leader only,
//     serialised and, should walletd ever return a result for it, committed
//     (walletd v2.4.2 answers unknown names with "Method not found").
//
// # What the embedding program provides
//
// Three small interfaces, defined here so this package does not depend on
// the leader election or the replicated store:
//
//   - Gate.BeginWrite admits one write on the writable leader and returns
//     the term (the fencing token) and a done func; on a follower it returns
//     an error naming the leader.
//   - Committer.Commit replicates the keystore change a write made; an error
//     means the write is not acknowledged.
//   - ReadGate.InSync reports whether reads may be served; the leader
//     reports true.
//
// # Requests
//
// POST or GET /v2 with a single JSON-RPC 2.0 request object as the body is
// accepted, under any content type but the form types (application/json,
// text/plain or none), as walletd accepts it; HEAD, which walletd also
// serves, is refused because its answer has no body.
// Batch arrays are rejected (walletd does not support them either). The
// proxy re-encodes the request it parsed and forwards that, so walletd
// executes exactly the method the proxy classified (no parser differential
// through duplicate keys).
//
// # Who may call what
//
// With Options.Auth (an auth file of USER:BCRYPT_HASH:ROLE lines, see
// Authenticator) every request needs HTTP basic auth: none or wrong → 401
// with a Basic challenge, too many failures from one address → 429, a role
// below RequiredRole → 403; in each case nothing reaches walletd. The roles:
//
//   - read: reads that return no private key (properties, get-height,
//     transactions, wallet-balances, active-identity-keys) and compose-*;
//   - write: adds keystore writes, transaction building, unlock-wallet,
//     sign-data, unknown methods, and address, all-addresses, identity-key
//     and all-identity-keys. Those reads return private keys: whoever can
//     read them can spend and sign, so they need the role that may already
//     create keys (a generate-* result holds the new key's secret too);
//   - admin: adds wallet-backup, the seed, from which every key the wallet
//     will ever derive follows.
//
// The user is logged with each request, never a password. The client's
// Authorization header then goes no further; walletd gets
// Options.WalletdUser/WalletdPassword when set. Without Options.Auth the
// client's Authorization is forwarded and walletd checks it; a 401 from
// walletd is passed back unchanged.
//
// Errors the proxy itself produces use these JSON-RPC codes (walletd uses
// -32001 "Wallet is locked" and -32003 "Incorrect passphrase", so the proxy's
// codes start at -32010):
//
//	-32700 parse error, -32600 invalid request (also batch, bad method,
//	       oversized body, wrong content type, wrong HTTP method or path)
//	-32010 not the leader (data: {"leader": "<pod>"} when known)
//	-32011 replica not in sync
//	-32012 write not committed (retry the request)
//	-32013 walletd unavailable, timed out or answered out of bounds
//	-32014 transaction not found on the leader (lost at a failover): rebuild it
//	-32015 unauthenticated (HTTP 401) or too many failed logins (429)
//	-32016 forbidden: role too low or wallet-backup off (HTTP 403)
//
// # Write path and its limits
//
// On the leader a leader-only request takes the write lock (waiting within
// RequestTimeout), then Gate.BeginWrite (so the term belongs to the write
// that runs now), calls walletd, calls done and releases the lock, and only
// then writes the reply. Once sent to walletd a write is finished even if
// the client goes away.
//
// A keystore write (and an unknown method) goes further, because walletd can
// change its keystore without answering with a result:
//
//   - it is not sent with less than its walletd timeout left
//     (min(WalletdTimeout, RequestTimeout/2)), nor while the Committer says
//     an earlier write's change is not taken back yet (Committer.Prepare);
//     an import of more than MaxImportKeys keys is refused (walletd syncs
//     its file once per key, ≈ 40 ms);
//   - walletd's result is committed (Committer.Commit, CommitTimeout from
//     walletd's answer) before the reply; any other answer — walletd's
//     error (a batch imported up to its first bad key), a broken answer —
//     ends it with Committer.Abort, which takes the partial change back;
//   - a write walletd has not answered within its timeout is answered with
//     a timeout at once, but keeps the write lock (and its place in the
//     gate) until walletd answers, up to HoldTimeout, and is then taken
//     back: no other write runs on walletd beside it.
//
// Params and results carry secrets: the proxy logs method, class, outcome,
// duration and term, never params, results or walletd's error bodies.
package proxy
