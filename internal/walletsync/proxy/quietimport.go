package proxy

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/FactomProject/factom"
	"github.com/rs/zerolog"

	"github.com/factom-sidecar/factom-sidecar/internal/walletd"
)

// walletd v2.4.2 prints the params of every call that succeeds, so a
// client's import-identity-keys would put its idsec secrets in `kubectl
// logs -c walletd`. walletd prints nothing for a call that fails, and it
// inserts keys one by one until one is not an identity secret: the proxy
// checks every key itself, sends the batch with walletd.QuietImportEnd
// appended, and answers the client with the result walletd would have
// given once walletd refuses that last entry, every real key inserted.

type identityKeyParam struct {
	Secret string `json:"secret"`
}

// quietIdentityImport rewrites an import-identity-keys request. It returns
// the request to send to walletd and the function that turns walletd's
// answer into the client's; a batch with a key that is not an identity
// secret is refused before anything is sent (walletd would insert the keys
// before it and then fail).
func quietIdentityImport(req request) (request, func(upstream, outcome) (upstream, outcome), *rpcError) {
	var params struct {
		Keys []identityKeyParam `json:"keys"`
	}
	if json.Unmarshal(req.Params, &params) != nil || len(params.Keys) == 0 {
		return req, nil, nil // walletd refuses it without printing anything
	}
	type keyResponse struct {
		Public string `json:"public"`
		Secret string `json:"secret"`
	}
	var result struct {
		Keys []keyResponse `json:"keys"`
	}
	for i, k := range params.Keys {
		key, err := factom.GetIdentityKey(k.Secret)
		if err != nil {
			// The key itself is not named: it may be a secret mistyped.
			return req, nil, &rpcError{Code: walletdInvalidParams, Message: fmt.Sprintf("invalid params: key %d is not an identity secret (idsec...); nothing was imported", i+1)}
		}
		result.Keys = append(result.Keys, keyResponse{Public: key.PubString(), Secret: k.Secret})
	}
	quiet := append(params.Keys, identityKeyParam{Secret: walletd.QuietImportEnd})
	raw, err := json.Marshal(map[string]any{"keys": quiet})
	if err != nil {
		return req, nil, &rpcError{Code: CodeWalletd, Message: "import-identity-keys could not be encoded"}
	}
	fwd := req
	fwd.Params = raw
	translate := func(up upstream, out outcome) (upstream, outcome) {
		if out.name == outcomeOK {
			// walletd accepted the end marker: not the walletd this proxy
			// knows. The write is not acknowledged (and is taken back).
			return upstream{reply: errorReply(http.StatusBadGateway, req.ID, &rpcError{Code: CodeWalletd, Message: "walletd accepted an invalid identity key; the import is not acknowledged"})},
				outcome{name: outcomeUnavailable, err: fmt.Errorf("walletd accepted the quiet-import end marker"), level: zerolog.ErrorLevel}
		}
		if out.name != outcomeWalletdError || !walletd.IsQuietImportEnd(up.errCode, up.errData) {
			return up, out
		}
		res, err := json.Marshal(result)
		if err != nil {
			return up, out
		}
		body, err := json.Marshal(struct {
			JSONRPC string          `json:"jsonrpc"`
			ID      json.RawMessage `json:"id"`
			Result  json.RawMessage `json:"result"`
		}{"2.0", req.ID, res})
		if err != nil {
			return up, out
		}
		return upstream{reply: reply{status: http.StatusOK, body: body}, result: res}, outcome{name: outcomeOK, level: zerolog.InfoLevel}
	}
	return fwd, translate, nil
}
