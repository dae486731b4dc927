package proxy

import "encoding/json"

// walletdTxNotFound is walletd's error data (wallet.ErrTXNotExists) for a
// transaction name it does not hold.
const walletdTxNotFound = "wallet: Transaction name was not found"

// txLostMessage replaces walletd's bare "Internal error" for a transaction
// it does not hold: after a failover the client is continuing a
// transaction that lived in the old leader's memory.
const txLostMessage = "transaction not found on the leader: transactions in progress live in one walletd's memory and are not " +
	"replicated, so a failover (or a walletd restart) loses them; rebuild it from new-transaction"

// transactionLost reports whether walletd's answer says it holds no
// transaction of that name.
func transactionLost(body []byte) bool {
	var env struct {
		Error *struct {
			Data json.RawMessage `json:"data"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &env) != nil || env.Error == nil {
		return false
	}
	var data string
	return json.Unmarshal(env.Error.Data, &data) == nil && data == walletdTxNotFound
}
