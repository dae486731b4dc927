package proxy

import (
	"net/http"
	"strings"

	"github.com/rs/zerolog"
)

// methodWalletBackup returns the seed: every key the wallet ever derives.
const methodWalletBackup = "wallet-backup"

// secretReads are the reads whose results hold private keys. Whoever may
// read them may spend and sign, so they take the write role.
var secretReads = map[string]bool{
	"address":           true,
	"all-addresses":     true,
	"identity-key":      true,
	"all-identity-keys": true,
}

// RequiredRole is the least role that may call method of class c:
//   - admin: wallet-backup;
//   - write: keystore writes, transaction building, unlock-wallet,
//     sign-data (it signs with a wallet key), unknown methods, and the
//     reads that return private keys;
//   - read: every other read, and compose-*.
func RequiredRole(method string, c Class) Role {
	switch {
	case method == methodWalletBackup:
		return RoleAdmin
	case secretReads[method], method == "sign-data":
		return RoleWrite
	case strings.HasPrefix(method, "compose-") && c != ClassUnknown:
		return RoleRead
	case c == ClassRead:
		return RoleRead
	default:
		return RoleWrite
	}
}

// leaderOnlyMethod lists the reads served by the leader only: one
// place hands out the seed, under the write lock, so a backup never
// sees half a write.
func leaderOnlyMethod(method string) bool { return method == methodWalletBackup }

// authenticate fills id from r's credentials when the proxy has users;
// without them every client is an anonymous admin, as on walletd.
func (p *Proxy) authenticate(r *http.Request, id *identity) (reply, outcome, bool) {
	if p.opts.Auth == nil {
		*id = identity{role: RoleAdmin}
		return reply{}, outcome{}, true
	}
	who, rep, out, ok := p.opts.Auth.authenticate(r)
	*id = who
	return rep, out, ok
}

// authorize refuses, with 403 and before walletd, what id may not call.
func (p *Proxy) authorize(id identity, req request, c Class) (reply, outcome, bool) {
	if req.Method == methodWalletBackup && !p.opts.AllowWalletBackup {
		return errorReply(http.StatusForbidden, req.ID, &rpcError{Code: CodeForbidden, Message: "forbidden: wallet-backup is turned off on this proxy (--allow-wallet-backup)"}),
			outcome{name: outcomeForbidden, level: zerolog.WarnLevel}, false
	}
	if need := RequiredRole(req.Method, c); id.role < need {
		return errorReply(http.StatusForbidden, req.ID, &rpcError{Code: CodeForbidden, Message: "forbidden: this method needs the " + need.String() + " role"}),
			outcome{name: outcomeForbidden, level: zerolog.WarnLevel}, false
	}
	return reply{}, outcome{}, true
}

// upstreamAuth sets the Authorization walletd gets: walletd's own
// credentials when configured; otherwise the client's, unless the proxy
// checked them (the proxy's passwords are not walletd's).
func (p *Proxy) upstreamAuth(r *http.Request, h http.Header) {
	switch {
	case p.opts.WalletdUser != "":
		req := http.Request{Header: h}
		req.SetBasicAuth(p.opts.WalletdUser, p.opts.WalletdPassword)
	case p.opts.Auth == nil:
		if auth := r.Header.Values("Authorization"); len(auth) > 0 {
			h["Authorization"] = auth
		}
	}
}

// JSON-RPC error codes of the proxy's own refusals.
const (
	CodeUnauthorized = -32015 // no or wrong credentials (HTTP 401), or too many failures (429)
	CodeForbidden    = -32016 // the user's role is too low, or the method is off (HTTP 403)
)

// Outcomes of auth refusals (the "outcome" label).
const (
	outcomeUnauthenticated = "unauthenticated" // the proxy refused the credentials
	outcomeForbidden       = "forbidden"
	outcomeRateLimited     = "rate_limited"
)
