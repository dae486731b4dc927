package health_test

import (
	"context"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/factom-sidecar/factom-sidecar/internal/health"
	"github.com/factom-sidecar/factom-sidecar/test/testenv"
)

// factomd with -rpcuser answers the monitor that sends its credentials
// and refuses the one that does not.
func TestMonitorLogsInToAFactomdWithRPCAuth(t *testing.T) {
	need(t)
	const user, password = "sidecar", "factomd-rpc-pw-c41e"
	node, err := testenv.StartFactomd("factomd-auth", testenv.FactomdOptions{Dir: t.TempDir(), BlockTime: blockTime, User: user, Password: password})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { node.Stop(10 * time.Second) })

	cfg := health.DefaultConfig()
	cfg.FactomdURL = node.URL()
	poll := func(opts health.Options) health.Status {
		m, err := health.NewWithOptions(cfg, zerolog.Nop(), nil, nil, opts)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		m.PollOnce(ctx)
		return m.Status()
	}
	if s := poll(health.Options{}); s.Local == nil || s.Local.OK {
		t.Fatalf("a monitor without credentials got an answer: %+v", s.Local)
	}
	s := poll(health.Options{User: user, Password: password})
	if s.Local == nil || !s.Local.OK {
		t.Fatalf("a monitor with factomd's credentials: %+v", s.Local)
	}
}
