// Package jsonrpc is a small JSON-RPC 2.0 client for factomd and walletd,
// with retries (go-retryablehttp), a timeout on every call and a bounded
// response size. Unlike the factom library's package-level client, each
// Client talks to one endpoint, so one process can watch several.
package jsonrpc

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-retryablehttp"
)

// MaxResponseBytes bounds what a call reads from the server.
const MaxResponseBytes = 8 << 20

// Options tunes a Client. Zero values take the defaults.
type Options struct {
	// Timeout bounds one whole call, retries included (default 2s).
	Timeout time.Duration
	// Retries is how many times a failed attempt is retried (default 0:
	// pollers retry on their next tick; a hung server must not stack calls).
	Retries int
	// User and Password are sent as HTTP basic auth when User is set.
	User, Password string
	// Transport replaces the default transport (tests inject faults here).
	Transport http.RoundTripper
	// TLS is the default transport's client TLS config (an https URL
	// whose server certificate a CATrust checks).
	TLS *tls.Config
}

// Client calls one JSON-RPC endpoint, e.g. http://127.0.0.1:8088/v2.
type Client struct {
	url  string
	opts Options
	http *retryablehttp.Client
	id   atomic.Int64
}

// New returns a client for url.
func New(url string, opts Options) *Client {
	if opts.Timeout <= 0 {
		opts.Timeout = 2 * time.Second
	}
	rc := retryablehttp.NewClient()
	rc.Logger = nil
	rc.RetryMax = opts.Retries
	rc.RetryWaitMin = 50 * time.Millisecond
	rc.RetryWaitMax = 500 * time.Millisecond
	transport := opts.Transport
	if transport == nil {
		transport = &http.Transport{
			Proxy:               nil,
			MaxIdleConnsPerHost: 4,
			IdleConnTimeout:     90 * time.Second,
			TLSHandshakeTimeout: opts.Timeout,
			TLSClientConfig:     opts.TLS,
		}
	}
	rc.HTTPClient = &http.Client{Transport: transport, Timeout: opts.Timeout}
	// Hand back the last response or error instead of retryablehttp's
	// generic "giving up" error, so callers can classify the failure.
	rc.ErrorHandler = retryablehttp.PassthroughErrorHandler
	return &Client{url: url, opts: opts, http: rc}
}

// URL is the endpoint this client calls.
func (c *Client) URL() string { return c.url }

// RPCError is a JSON-RPC error object returned by the server (factomd sends
// these with HTTP 200).
type RPCError struct {
	Code    int             `json:"code"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data,omitempty"`
}

func (e *RPCError) Error() string { return fmt.Sprintf("rpc error %d: %s", e.Code, e.Message) }

// HTTPError is a non-2xx answer without a JSON-RPC error object.
type HTTPError struct{ Status int }

func (e *HTTPError) Error() string { return fmt.Sprintf("http status %d", e.Status) }

// ErrMalformed wraps responses that are not valid JSON-RPC.
var ErrMalformed = errors.New("malformed response")

type request struct {
	JSONRPC string `json:"jsonrpc"`
	ID      int64  `json:"id"`
	Method  string `json:"method"`
	Params  any    `json:"params,omitempty"`
}

// Response is a decoded JSON-RPC response envelope.
type Response struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Result  json.RawMessage `json:"result"`
	Error   *RPCError       `json:"error"`
}

// DecodeResponse parses a response body. An error object is returned as
// *RPCError; anything that is not a JSON-RPC envelope wraps ErrMalformed.
func DecodeResponse(body []byte) (json.RawMessage, error) {
	var resp Response
	if err := json.Unmarshal(body, &resp); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if resp.Error != nil {
		return nil, resp.Error
	}
	if len(resp.Result) == 0 || bytes.Equal(resp.Result, []byte("null")) {
		return nil, fmt.Errorf("%w: no result", ErrMalformed)
	}
	return resp.Result, nil
}

// Call invokes method with params and decodes the result into result (if
// not nil). The call is bounded by ctx and by Options.Timeout.
func (c *Client) Call(ctx context.Context, method string, params, result any) error {
	raw, err := c.CallRaw(ctx, method, params)
	if err != nil {
		return err
	}
	if result == nil {
		return nil
	}
	if err := json.Unmarshal(raw, result); err != nil {
		return fmt.Errorf("%s: %w: %w", method, ErrMalformed, err)
	}
	return nil
}

// CallRaw is Call without decoding the result.
func (c *Client) CallRaw(ctx context.Context, method string, params any) (json.RawMessage, error) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	payload, err := json.Marshal(request{JSONRPC: "2.0", ID: c.id.Add(1), Method: method, Params: params})
	if err != nil {
		return nil, fmt.Errorf("%s: encode: %w", method, err)
	}
	req, err := retryablehttp.NewRequestWithContext(ctx, http.MethodPost, c.url, payload)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", method, err)
	}
	req.Header.Set("Content-Type", "application/json")
	if c.opts.User != "" {
		req.SetBasicAuth(c.opts.User, c.opts.Password)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", method, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%s: read: %w", method, err)
	}
	if len(body) > MaxResponseBytes {
		return nil, fmt.Errorf("%s: %w: larger than %d bytes", method, ErrMalformed, MaxResponseBytes)
	}
	result, decodeErr := DecodeResponse(body)
	var rpcErr *RPCError
	if errors.As(decodeErr, &rpcErr) {
		return nil, fmt.Errorf("%s: %w", method, rpcErr)
	}
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("%s: %w", method, &HTTPError{Status: resp.StatusCode})
	}
	if decodeErr != nil {
		return nil, fmt.Errorf("%s: %w", method, decodeErr)
	}
	return result, nil
}
