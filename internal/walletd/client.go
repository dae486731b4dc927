// Package walletd is a typed client for factom-walletd's JSON-RPC API
// (github.com/FactomProject/wallet/v2 wsapi). Secrets travel in the Secret
// type, which never prints, and errors never carry what walletd echoed back.
package walletd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/factom-sidecar/factom-sidecar/internal/jsonrpc"
)

// Secret is a private key or a mnemonic seed. Its String and GoString never
// show the value, so a Secret that reaches a log line or an error by mistake
// prints as a placeholder. Reveal returns the value on purpose.
type Secret string

// Redacted is what a Secret prints as.
const Redacted = "[redacted]"

func (s Secret) String() string   { return Redacted }
func (s Secret) GoString() string { return Redacted }

// Reveal returns the secret value.
func (s Secret) Reveal() string { return string(s) }

// Key is an address or identity key pair as walletd returns it: Public is
// FA.../EC.../idpub..., Secret is Fs.../Es.../idsec....
type Key struct {
	Public string `json:"public"`
	Secret Secret `json:"secret,omitempty"`
}

// Backup is what wallet-backup returns: the whole keystore.
type Backup struct {
	Seed         Secret `json:"wallet-seed"`
	Addresses    []Key  `json:"addresses"`
	IdentityKeys []Key  `json:"identity-keys"`
}

// Properties is walletd's version information.
type Properties struct {
	WalletVersion    string `json:"walletversion"`
	WalletAPIVersion string `json:"walletapiversion"`
}

// Error is a failed walletd call. It keeps walletd's JSON-RPC code and
// message but never the error's data field, which can echo parameters.
type Error struct {
	Method  string
	Code    int
	Message string
	Err     error
}

func (e *Error) Error() string {
	if e.Code != 0 {
		return fmt.Sprintf("walletd %s: rpc error %d: %s", e.Method, e.Code, e.Message)
	}
	return fmt.Sprintf("walletd %s: %v", e.Method, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// Client calls one walletd.
type Client struct {
	rpc *jsonrpc.Client
}

// New returns a client over rpc (e.g. jsonrpc.New("http://127.0.0.1:8089/v2", ...)).
func New(rpc *jsonrpc.Client) *Client { return &Client{rpc: rpc} }

// call invokes method and decodes into result. Errors are rebuilt so that no
// RPC error data (walletd puts internal error text there, which can contain
// parameters) and no response bytes reach the caller.
func (c *Client) call(ctx context.Context, method string, params, result any) error {
	raw, err := c.rpc.CallRaw(ctx, method, params)
	if err != nil {
		return c.wrap(method, err)
	}
	if result == nil {
		return nil
	}
	if err := json.Unmarshal(raw, result); err != nil {
		// json errors name types and offsets, not values; keep only the
		// class anyway so no fragment of a secret can leak.
		return &Error{Method: method, Err: fmt.Errorf("%w: undecodable result", jsonrpc.ErrMalformed)}
	}
	return nil
}

// wrap rebuilds a failed call's error without RPC error data or response
// bytes.
func (c *Client) wrap(method string, err error) error {
	var rpcErr *jsonrpc.RPCError
	if errors.As(err, &rpcErr) {
		return &Error{Method: method, Code: rpcErr.Code, Message: sanitize(rpcErr.Message), Err: errRPC}
	}
	var httpErr *jsonrpc.HTTPError
	if errors.As(err, &httpErr) {
		return &Error{Method: method, Err: httpErr}
	}
	if errors.Is(err, jsonrpc.ErrMalformed) {
		return &Error{Method: method, Err: jsonrpc.ErrMalformed}
	}
	// Transport errors (timeouts, refused connections) carry the URL and
	// the cause, never the request body.
	return &Error{Method: method, Err: err}
}

var errRPC = errors.New("rpc error")

// sanitize keeps walletd's message only when it is one of the fixed
// messages walletd sends (wsapi/errors.go); anything else might echo a
// parameter and is withheld.
func sanitize(msg string) string {
	switch msg {
	case "Parse error", "Invalid Request", "Method not found", "Invalid params", "Internal error",
		"Wallet is locked", "Incorrect passphrase":
		return msg
	}
	return "(message withheld: it may echo parameters)"
}

// Properties calls properties.
func (c *Client) Properties(ctx context.Context) (Properties, error) {
	var p Properties
	err := c.call(ctx, "properties", nil, &p)
	return p, err
}

// WalletBackup calls wallet-backup: the seed and every key with its secret.
func (c *Client) WalletBackup(ctx context.Context) (*Backup, error) {
	var b Backup
	if err := c.call(ctx, "wallet-backup", nil, &b); err != nil {
		return nil, err
	}
	return &b, nil
}

// AllAddresses calls all-addresses (FCT and EC, with secrets).
func (c *Client) AllAddresses(ctx context.Context) ([]Key, error) {
	var r struct {
		Addresses []Key `json:"addresses"`
	}
	err := c.call(ctx, "all-addresses", nil, &r)
	return r.Addresses, err
}

// AllIdentityKeys calls all-identity-keys.
func (c *Client) AllIdentityKeys(ctx context.Context) ([]Key, error) {
	var r struct {
		Keys []Key `json:"keys"`
	}
	err := c.call(ctx, "all-identity-keys", nil, &r)
	return r.Keys, err
}

func (c *Client) generate(ctx context.Context, method string) (Key, error) {
	var k Key
	err := c.call(ctx, method, nil, &k)
	return k, err
}

// GenerateFactoidAddress calls generate-factoid-address.
func (c *Client) GenerateFactoidAddress(ctx context.Context) (Key, error) {
	return c.generate(ctx, MethodGenerateFactoidAddress)
}

// GenerateECAddress calls generate-ec-address.
func (c *Client) GenerateECAddress(ctx context.Context) (Key, error) {
	return c.generate(ctx, MethodGenerateECAddress)
}

// GenerateIdentityKey calls generate-identity-key.
func (c *Client) GenerateIdentityKey(ctx context.Context) (Key, error) {
	return c.generate(ctx, MethodGenerateIdentityKey)
}

type secretParam struct {
	Secret Secret `json:"secret"`
}

func secretParams(secrets []Secret) []secretParam {
	out := make([]secretParam, len(secrets))
	for i, s := range secrets {
		out[i] = secretParam{Secret: s}
	}
	return out
}

// ImportAddresses calls import-addresses with Fs.../Es... secrets.
func (c *Client) ImportAddresses(ctx context.Context, secrets ...Secret) ([]Key, error) {
	var r struct {
		Addresses []Key `json:"addresses"`
	}
	err := c.call(ctx, MethodImportAddresses, map[string]any{"addresses": secretParams(secrets)}, &r)
	return r.Addresses, err
}

// ImportIdentityKeys calls import-identity-keys with idsec... secrets.
func (c *Client) ImportIdentityKeys(ctx context.Context, secrets ...Secret) ([]Key, error) {
	var r struct {
		Keys []Key `json:"keys"`
	}
	err := c.call(ctx, MethodImportIdentityKeys, map[string]any{"keys": secretParams(secrets)}, &r)
	return r.Keys, err
}

// QuietImportEnd ends a quiet identity import: not an identity secret, so
// walletd stops at it with an error, after inserting every key before it.
const QuietImportEnd = "idsec-end-of-import"

// errImportEnd is walletd's error data for QuietImportEnd
// (factom.GetIdentityKey's error).
const errImportEnd = `"invalid Identity Private Key"`

// IsQuietImportEnd reports whether a JSON-RPC error from walletd is its
// refusal of QuietImportEnd: code -32603 with factom.GetIdentityKey's error.
// Only a batch whose every other key is valid can end that way.
func IsQuietImportEnd(code int, data json.RawMessage) bool {
	return code == -32603 && string(data) == errImportEnd
}

// ImportIdentityKeysQuietly imports idsec... secrets without walletd
// printing them. walletd v2.4.2 prints the params of every successful call
// but import-addresses, import-koinify and unlock-wallet, so a successful
// import-identity-keys puts its secrets on walletd's stdout (kubectl logs).
// walletd inserts the keys one by one and prints nothing for a call that
// fails, so the batch ends with a key that is not one: walletd has inserted
// every real key when it refuses that last one, and that refusal is the
// success this method reports. Any other answer is an error.
func (c *Client) ImportIdentityKeysQuietly(ctx context.Context, secrets ...Secret) error {
	keys := append(secretParams(secrets), secretParam{Secret: QuietImportEnd})
	_, err := c.rpc.CallRaw(ctx, MethodImportIdentityKeys, map[string]any{"keys": keys})
	var rpcErr *jsonrpc.RPCError
	if errors.As(err, &rpcErr) && IsQuietImportEnd(rpcErr.Code, rpcErr.Data) {
		return nil
	}
	if err == nil {
		return &Error{Method: MethodImportIdentityKeys, Err: errors.New("walletd accepted the end marker of a quiet import")}
	}
	return c.wrap(MethodImportIdentityKeys, err)
}

// RemoveAddress calls remove-address with a public FA.../EC... address.
func (c *Client) RemoveAddress(ctx context.Context, public string) error {
	return c.call(ctx, MethodRemoveAddress, map[string]string{"address": public}, nil)
}

// RemoveIdentityKey calls remove-identity-key with a public idpub... key.
func (c *Client) RemoveIdentityKey(ctx context.Context, public string) error {
	return c.call(ctx, MethodRemoveIdentityKey, map[string]string{"public": public}, nil)
}

// Keystore write methods.
const (
	MethodGenerateFactoidAddress = "generate-factoid-address"
	MethodGenerateECAddress      = "generate-ec-address"
	MethodGenerateIdentityKey    = "generate-identity-key"
	MethodImportAddresses        = "import-addresses"
	MethodImportKoinify          = "import-koinify"
	MethodImportIdentityKeys     = "import-identity-keys"
	MethodRemoveAddress          = "remove-address"
	MethodRemoveIdentityKey      = "remove-identity-key"
)

// Address calls address: the key pair of one FCT or EC public address.
func (c *Client) Address(ctx context.Context, public string) (Key, error) {
	var k Key
	err := c.call(ctx, "address", map[string]string{"address": public}, &k)
	return k, err
}

// IdentityKey calls identity-key: the key pair of one idpub... key.
func (c *Client) IdentityKey(ctx context.Context, public string) (Key, error) {
	var k Key
	err := c.call(ctx, "identity-key", map[string]string{"public": public}, &k)
	return k, err
}
