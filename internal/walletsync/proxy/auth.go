package proxy

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/time/rate"

	"github.com/factom-sidecar/factom-sidecar/internal/filereload"
	"github.com/factom-sidecar/factom-sidecar/internal/logging"
)

// AuthOptions tune an Authenticator; zero values take the defaults.
type AuthOptions struct {
	// PollInterval is how often the file is re-read (default 2s). A
	// mounted Secret changes by a symlink swap: the content is compared.
	PollInterval time.Duration
	// FailuresPerSecond and FailureBurst bound failed attempts per client
	// IP (defaults 1/s, burst 10); beyond them the client gets HTTP 429
	// and no password is checked.
	FailuresPerSecond float64
	FailureBurst      int
}

// Authenticator checks HTTP basic auth against the users of an auth file
// it re-reads when the file changes.
type Authenticator struct {
	path  string
	opts  AuthOptions
	log   zerolog.Logger
	table atomic.Pointer[authTable]

	mu       sync.Mutex
	limiters map[string]*rate.Limiter
}

// authTable is one version of the file.
type authTable struct {
	sum   [32]byte
	users map[string]authUser
	// verified caches, per user, a keyed digest of the last password
	// bcrypt accepted, so that a client does not pay bcrypt's ~50 ms on
	// every call. A new table (the file changed) starts empty.
	key      []byte
	verified sync.Map // user → []byte
	// dummy is checked for unknown users, at the file's highest cost, so
	// that the time of a refusal does not tell whether the user exists.
	dummy []byte
}

// maxLimiters bounds the per-IP limiters kept; beyond it they are dropped
// and start afresh.
const maxLimiters = 10000

// NewAuthenticator reads path; bad content is an error naming the line.
func NewAuthenticator(path string, opts AuthOptions, log zerolog.Logger) (*Authenticator, error) {
	if opts.PollInterval <= 0 {
		opts.PollInterval = 2 * time.Second
	}
	if opts.FailuresPerSecond <= 0 {
		opts.FailuresPerSecond = 1
	}
	if opts.FailureBurst <= 0 {
		opts.FailureBurst = 10
	}
	a := &Authenticator{path: path, opts: opts, log: log.With().Str("subsystem", "proxy-auth").Logger(), limiters: map[string]*rate.Limiter{}}
	if _, err := a.Reload(); err != nil {
		return nil, err
	}
	return a, nil
}

// Reload re-reads the file. It reports whether the users changed; on an
// error the users in force stay.
func (a *Authenticator) Reload() (bool, error) {
	data, err := os.ReadFile(a.path)
	if err != nil {
		return false, fmt.Errorf("auth file: %w", err)
	}
	sum := sha256.Sum256(data)
	if cur := a.table.Load(); cur != nil && cur.sum == sum {
		return false, nil
	}
	users, err := ParseAuthFile(data)
	if err != nil {
		return false, err
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return false, fmt.Errorf("auth: %w", err)
	}
	cost := bcrypt.MinCost
	for _, u := range users {
		if c, _ := bcrypt.Cost(u.hash); c > cost {
			cost = c
		}
	}
	dummy, err := bcrypt.GenerateFromPassword(key, cost)
	if err != nil {
		return false, fmt.Errorf("auth: %w", err)
	}
	a.table.Store(&authTable{sum: sum, users: users, key: key, dummy: dummy})
	return true, nil
}

// Run re-reads the file every PollInterval until ctx ends.
func (a *Authenticator) Run(ctx context.Context) {
	filereload.Every(ctx, a.opts.PollInterval, a.Reload, a.log, filereload.Events{Reloaded: logging.EventAuthReloaded, Failed: logging.EventAuthReloadFailed}, "the previous users stay in force", nil)
}

// identity is who made a request.
type identity struct {
	user string
	role Role
}

// authenticate checks r's credentials. ok false comes with the reply: 401
// without or with wrong credentials, 429 after too many wrong ones.
func (a *Authenticator) authenticate(r *http.Request) (identity, reply, outcome, bool) {
	lim := a.limiter(clientIP(r))
	if lim.Tokens() < 1 {
		rep := errorReply(http.StatusTooManyRequests, jsonNull, &rpcError{Code: CodeUnauthorized, Message: "too many failed logins from this address; retry later"})
		rep.header = http.Header{"Retry-After": {"1"}}
		return identity{}, rep, outcome{name: outcomeRateLimited, level: zerolog.WarnLevel}, false
	}
	user, pass, ok := Credentials(r.Header)
	if !ok {
		// Not a failure: nothing was guessed, and a client may ask first
		// and answer the challenge.
		return identity{}, unauthorized("authentication required: send HTTP basic auth"), outcome{name: outcomeUnauthenticated, level: zerolog.InfoLevel}, false
	}
	t := a.table.Load()
	if role, ok := t.check(user, pass); ok {
		return identity{user: user, role: role}, reply{}, outcome{}, true
	}
	lim.Allow()
	// The user name is client input: it is logged only when it is known,
	// so that a password typed into the user field is not.
	name := "(unknown user)"
	if _, known := t.users[user]; known {
		name = user
	}
	return identity{user: name}, unauthorized("authentication failed"), outcome{name: outcomeUnauthenticated, level: zerolog.WarnLevel}, false
}

func (t *authTable) check(user, pass string) (Role, bool) {
	u, known := t.users[user]
	mac := hmac.New(sha256.New, t.key)
	mac.Write([]byte(pass))
	digest := mac.Sum(nil)
	if known {
		if prev, ok := t.verified.Load(user); ok && hmac.Equal(prev.([]byte), digest) {
			return u.role, true
		}
	}
	hash := t.dummy
	if known {
		hash = u.hash
	}
	if bcrypt.CompareHashAndPassword(hash, []byte(pass)) != nil || !known {
		return RoleNone, false
	}
	t.verified.Store(user, digest)
	return u.role, true
}

func unauthorized(msg string) reply {
	rep := errorReply(http.StatusUnauthorized, jsonNull, &rpcError{Code: CodeUnauthorized, Message: msg})
	rep.header = http.Header{"Www-Authenticate": {`Basic realm="factom-walletd", charset="UTF-8"`}}
	return rep
}

func (a *Authenticator) limiter(ip string) *rate.Limiter {
	a.mu.Lock()
	defer a.mu.Unlock()
	l, ok := a.limiters[ip]
	if !ok {
		if len(a.limiters) >= maxLimiters {
			clear(a.limiters)
		}
		l = rate.NewLimiter(rate.Limit(a.opts.FailuresPerSecond), a.opts.FailureBurst)
		a.limiters[ip] = l
	}
	return l
}

// clientIP is the peer's address; X-Forwarded-For is not trusted.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// Credentials reads HTTP basic auth from h. More than one Authorization
// header is refused, so that no two parts of a chain read different ones.
func Credentials(h http.Header) (user, pass string, ok bool) {
	if len(h.Values("Authorization")) != 1 {
		return "", "", false
	}
	r := http.Request{Header: http.Header{"Authorization": h.Values("Authorization")}}
	user, pass, ok = r.BasicAuth()
	if !ok || user == "" {
		return "", "", false
	}
	return user, pass, true
}
