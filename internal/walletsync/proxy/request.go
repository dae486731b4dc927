package proxy

import (
	"bytes"
	"encoding/json"
	"mime"
	"net/http"
)

// JSON-RPC error codes; see the package documentation.
const (
	CodeParseError     = -32700
	CodeInvalidRequest = -32600
	CodeNotLeader      = -32010
	CodeNotInSync      = -32011
	CodeNotCommitted   = -32012
	CodeWalletd        = -32013
	// CodeTransactionLost: walletd holds no transaction of that name, as
	// after a failover; the client rebuilds it from new-transaction.
	CodeTransactionLost = -32014
)

// checkHTTPRequest accepts what walletd accepts: POST or GET /v2 with the
// request object as the body, under any content type but the form types,
// whose bodies walletd's web server consumes as a form (it then answers
// -32600). HEAD, which walletd also routes to the handler, is refused:
// its answer has no body, so a write's result would be lost.
func checkHTTPRequest(r *http.Request) (reply, bool) {
	if r.Method != http.MethodPost && r.Method != http.MethodGet {
		rep := errorReply(http.StatusMethodNotAllowed, jsonNull, &rpcError{Code: CodeInvalidRequest, Message: "method not allowed: use POST (or GET) /v2 with the request in the body"})
		rep.header = http.Header{"Allow": {"GET, POST"}}
		return rep, true
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt == "application/x-www-form-urlencoded" || mt == "multipart/form-data" {
			return errorReply(http.StatusUnsupportedMediaType, jsonNull, &rpcError{Code: CodeInvalidRequest, Message: "unsupported content type: send the JSON-RPC request as application/json or text/plain"}), true
		}
	}
	return reply{}, false
}

// rpcError is a JSON-RPC error object produced by the proxy itself. Its
// message never holds params, results or upstream error text.
type rpcError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Data    any    `json:"data,omitempty"`
}

// request is one parsed JSON-RPC 2.0 request.
type request struct {
	// ID is the raw id (a string, a number or null); null when absent.
	ID     json.RawMessage
	Method string
	// Params is the raw params (an object or an array), nil when absent.
	Params json.RawMessage
}

var jsonNull = json.RawMessage("null")

// parseRequest parses a single JSON-RPC 2.0 request object. On failure it
// returns the error to answer with and the id to echo (null when unknown).
// Keys match exactly ("method", not "Method") and unknown keys are dropped:
// what is forwarded is encode(), never the client's bytes.
func parseRequest(body []byte) (request, json.RawMessage, *rpcError) {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if !json.Valid(trimmed) {
		return request{}, jsonNull, &rpcError{Code: CodeParseError, Message: "parse error: the body is not valid JSON"}
	}
	switch trimmed[0] {
	case '[':
		return request{}, jsonNull, &rpcError{Code: CodeInvalidRequest, Message: "invalid request: batch requests are not supported, send one request object per HTTP request"}
	case '{':
	default:
		return request{}, jsonNull, &rpcError{Code: CodeInvalidRequest, Message: "invalid request: the body must be a JSON-RPC request object"}
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(trimmed, &fields); err != nil {
		// Unreachable for valid JSON objects; kept so a change in the checks
		// above cannot turn into a panic.
		return request{}, jsonNull, &rpcError{Code: CodeParseError, Message: "parse error: the body is not valid JSON"}
	}

	req := request{ID: jsonNull}
	if id, ok := fields["id"]; ok {
		switch kindOf(id) {
		case kindString, kindNumber, kindNull:
			req.ID = compact(id)
		default:
			return request{}, jsonNull, &rpcError{Code: CodeInvalidRequest, Message: "invalid request: id must be a string, a number or null"}
		}
	}
	if v, ok := fields["jsonrpc"]; !ok || !bytes.Equal(compact(v), []byte(`"2.0"`)) {
		return request{}, req.ID, &rpcError{Code: CodeInvalidRequest, Message: `invalid request: jsonrpc must be "2.0"`}
	}
	m, ok := fields["method"]
	if !ok {
		return request{}, req.ID, &rpcError{Code: CodeInvalidRequest, Message: "invalid request: method is missing"}
	}
	if kindOf(m) != kindString {
		return request{}, req.ID, &rpcError{Code: CodeInvalidRequest, Message: "invalid request: method must be a string"}
	}
	if err := json.Unmarshal(m, &req.Method); err != nil || req.Method == "" {
		return request{}, req.ID, &rpcError{Code: CodeInvalidRequest, Message: "invalid request: method must be a non-empty string"}
	}
	if p, ok := fields["params"]; ok {
		switch kindOf(p) {
		case kindObject, kindArray:
			req.Params = p
		case kindNull:
		default:
			return request{}, req.ID, &rpcError{Code: CodeInvalidRequest, Message: "invalid request: params must be an object or an array"}
		}
	}
	return req, req.ID, nil
}

// encode is the request forwarded to walletd.
func (r request) encode() []byte {
	var b bytes.Buffer
	b.Grow(len(r.Method) + len(r.ID) + len(r.Params) + 48)
	b.WriteString(`{"jsonrpc":"2.0","id":`)
	b.Write(r.ID)
	b.WriteString(`,"method":`)
	m, _ := json.Marshal(r.Method) // a string always marshals
	b.Write(m)
	if r.Params != nil {
		b.WriteString(`,"params":`)
		b.Write(r.Params)
	}
	b.WriteByte('}')
	return b.Bytes()
}

type jsonKind int

const (
	kindInvalid jsonKind = iota
	kindNull
	kindBool
	kindNumber
	kindString
	kindArray
	kindObject
)

// kindOf tells the type of a valid raw JSON value by its first byte.
func kindOf(raw json.RawMessage) jsonKind {
	raw = bytes.TrimLeft(raw, " \t\r\n")
	if len(raw) == 0 {
		return kindInvalid
	}
	switch c := raw[0]; {
	case c == 'n':
		return kindNull
	case c == 't' || c == 'f':
		return kindBool
	case c == '"':
		return kindString
	case c == '[':
		return kindArray
	case c == '{':
		return kindObject
	case c == '-' || (c >= '0' && c <= '9'):
		return kindNumber
	}
	return kindInvalid
}

// compact strips insignificant whitespace from a valid raw JSON value.
func compact(raw json.RawMessage) json.RawMessage {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return raw
	}
	return b.Bytes()
}
