package node

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
)

// lockFile serialises nodes on one machine. A node takes host-wide things
// (the kubelet's cgroups, iptables chains, the CNI network namespaces) and
// its start cleans what a killed node left behind, so a second node would
// tear down the first. The kernel drops the lock when its holder dies, so
// a killed test binary never leaves it held.
const lockFile = "/run/factom-sidecar-node.lock"

// acquireHostLock waits until no other node runs on this machine.
func acquireHostLock(ctx context.Context) (*os.File, error) {
	f, err := os.OpenFile(lockFile, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("node lock: %w", err)
	}
	waiting := false
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			_ = f.Truncate(0)
			_, _ = fmt.Fprintf(f, "%d\n", os.Getpid())
			return f, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("node lock: %w", err)
		}
		if !waiting {
			holder, _ := os.ReadFile(lockFile)
			fmt.Fprintf(os.Stderr, "node: another node runs on this machine (pid %s); waiting for it to stop\n", trimNewline(holder))
			waiting = true
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("node lock: waiting for another node: %w", ctx.Err())
		case <-time.After(time.Second):
		}
	}
}

func trimNewline(b []byte) string {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return string(b)
}
