package health

import (
	"context"
	"errors"
	"net"

	"github.com/factom-sidecar/factom-sidecar/internal/jsonrpc"
)

// Failure kinds of one poll, used as reasons and as the kind label of
// factom_sidecar_poll_errors_total.
const (
	KindTimeout       = "timeout"
	KindUnreachable   = "unreachable"
	KindRPCError      = "rpc_error"
	KindHTTPError     = "http_error"
	KindMalformed     = "malformed"
	KindInvalidHeight = "invalid_height"
	KindDNS           = "dns"
)

// classify names a poll failure. Answers that are wrong (error objects,
// garbage) are told apart from no answer at all (timeout, refused).
func classify(err error) string {
	var rpcErr *jsonrpc.RPCError
	var httpErr *jsonrpc.HTTPError
	var netErr net.Error
	switch {
	case errors.As(err, &rpcErr):
		return KindRPCError
	case errors.Is(err, ErrInvalidHeight):
		return KindInvalidHeight
	case errors.Is(err, jsonrpc.ErrMalformed):
		return KindMalformed
	case errors.As(err, &httpErr):
		return KindHTTPError
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return KindTimeout
	default:
		return KindUnreachable
	}
}
