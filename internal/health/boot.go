package health

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/factom-sidecar/factom-sidecar/internal/jsonrpc"
)

// factomd v6 says it has not booted in one place only: its balance look-ups
// answer "Not fully booted" per address until it has loaded its database and
// its -startdelay has passed (state.DBFinished and IgnoreDone). Until then
// heights and current-minute answer normally, but balances (and so
// walletd's compose-* checks) are wrong. The sidecar asks for the balance of
// one public address, the entry-credit address of the all-zero key; its
// balance is never used.
const (
	bootMethod       = "multiple-ec-balances"
	bootProbeAddress = "EC2DKSYyRcNWf7RS963VFYgMExoHRYLHVeCfQ9PGPmNzwrcmgm2r"
	notBootedText    = "Not fully booted"
)

var bootParams = map[string][]string{"addresses": {bootProbeAddress}}

// DecodeBooted parses the result of multiple-ec-balances for the one probe
// address: false when factomd says it is not fully booted.
func DecodeBooted(raw []byte) (bool, error) {
	fields, err := object(raw)
	if err != nil {
		return false, fmt.Errorf("%s: %w", bootMethod, err)
	}
	var balances []map[string]json.RawMessage
	b, ok := fields["balances"]
	if !ok {
		return false, fmt.Errorf("%s: %w: no balances", bootMethod, jsonrpc.ErrMalformed)
	}
	if err := json.Unmarshal(b, &balances); err != nil || len(balances) != 1 || balances[0] == nil {
		return false, fmt.Errorf("%s: %w: balances is not a list of one object", bootMethod, jsonrpc.ErrMalformed)
	}
	var text string
	if e, ok := balances[0]["err"]; ok {
		if err := json.Unmarshal(e, &text); err != nil {
			return false, fmt.Errorf("%s: %w: err is not a string", bootMethod, jsonrpc.ErrMalformed)
		}
	}
	return text != notBootedText, nil
}

// bootCheck asks factomd whether it has booted. A factomd without the
// balance look-up ("Method not found") is not judged on it.
func (m *Monitor) bootCheck(ctx context.Context, c *jsonrpc.Client) (*bool, error) {
	raw, err := c.CallRaw(ctx, bootMethod, bootParams)
	var rpcErr *jsonrpc.RPCError
	if errors.As(err, &rpcErr) && rpcErr.Code == -32601 {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	booted, err := DecodeBooted(raw)
	if err != nil {
		return nil, err
	}
	return &booted, nil
}
