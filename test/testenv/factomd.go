package testenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/factom-sidecar/factom-sidecar/internal/jsonrpc"
)

// FactomdOptions describe one factomd of a LOCAL test network.
type FactomdOptions struct {
	// Dir holds the node's -factomhome and its log file.
	Dir string
	// BlockTime is -blktime in seconds (default 6).
	BlockTime int
	// Peer is another node's network address (host:port); the node then
	// runs as a follower that syncs from it.
	Peer string
	// APIPort fixes the API port (0: a free one), so a sidecar can be
	// pointed at a node before the node starts.
	APIPort int
	// ReadyTimeout bounds the wait for the API to answer (default 90s).
	ReadyTimeout time.Duration
	// StartDelay is -startdelay in seconds: the node answers "Not fully
	// booted" to balance look-ups for that long after it starts.
	StartDelay int
	// User and Password protect the API (factomd -rpcuser/-rpcpass).
	User, Password string
}

// Factomd is a running factomd.
type Factomd struct {
	*Process
	Home        string
	APIPort     int
	NetworkPort int
	client      *jsonrpc.Client
}

// URL is the node's API base URL (without /v2).
func (f *Factomd) URL() string { return "http://127.0.0.1:" + strconv.Itoa(f.APIPort) }

// NetworkAddr is where peers connect to this node.
func (f *Factomd) NetworkAddr() string { return "127.0.0.1:" + strconv.Itoa(f.NetworkPort) }

// StartFactomd starts bin/factomd on a LOCAL network with free loopback
// ports and waits until its API answers `heights`.
func StartFactomd(name string, opts FactomdOptions) (*Factomd, error) {
	bin, err := Binary("factomd")
	if err != nil {
		return nil, err
	}
	if opts.BlockTime == 0 {
		opts.BlockTime = 6
	}
	if opts.ReadyTimeout == 0 {
		opts.ReadyTimeout = 90 * time.Second
	}
	home := filepath.Join(opts.Dir, name)
	if err := os.MkdirAll(home, 0o700); err != nil {
		return nil, fmt.Errorf("factomd %s: %w", name, err)
	}
	var ports [3]int
	ports[0] = opts.APIPort
	for i := range ports {
		if ports[i] != 0 {
			continue
		}
		if ports[i], err = FreePort(); err != nil {
			return nil, err
		}
	}
	args := []string{
		"-network=LOCAL", "-blktime=" + strconv.Itoa(opts.BlockTime), "-factomhome=" + home,
		"-port=" + strconv.Itoa(ports[0]), "-networkport=" + strconv.Itoa(ports[1]), "-logPort=" + strconv.Itoa(ports[2]),
		"-controlpanelsetting=disabled", "-startdelay=" + strconv.Itoa(opts.StartDelay), "-sim_stdin=false",
	}
	if opts.Peer != "" {
		args = append(args, "-peers="+opts.Peer, "-follower=true", "-leader=false")
	}
	if opts.User != "" {
		args = append(args, "-rpcuser="+opts.User, "-rpcpass="+opts.Password)
	}
	proc, err := Start(name, bin, args, nil, filepath.Join(opts.Dir, name+".log"))
	if err != nil {
		return nil, err
	}
	f := &Factomd{Process: proc, Home: home, APIPort: ports[0], NetworkPort: ports[1]}
	f.client = jsonrpc.New(f.URL()+"/v2", jsonrpc.Options{Timeout: 2 * time.Second, User: opts.User, Password: opts.Password})
	err = Eventually(opts.ReadyTimeout, 200*time.Millisecond, func() (bool, error) {
		if proc.Exited() {
			return false, fmt.Errorf("factomd %s exited:\n%s", name, Tail(proc.Logs(), 2000))
		}
		_, err := f.Height(context.Background())
		return err == nil, err
	})
	if err != nil {
		proc.Kill()
		return nil, fmt.Errorf("factomd %s: api not ready: %w", name, err)
	}
	return f, nil
}

// Height asks the node for its directoryblockheight.
func (f *Factomd) Height(ctx context.Context) (int64, error) {
	var h struct {
		DirectoryBlockHeight int64 `json:"directoryblockheight"`
	}
	if err := f.client.Call(ctx, "heights", nil, &h); err != nil {
		return 0, fmt.Errorf("factomd %s: %w", f.Name, err)
	}
	return h.DirectoryBlockHeight, nil
}

// WaitHeight waits until the node's height is at least h.
func (f *Factomd) WaitHeight(h int64, timeout time.Duration) error {
	return Eventually(timeout, 250*time.Millisecond, func() (bool, error) {
		got, err := f.Height(context.Background())
		if err != nil {
			return false, err
		}
		return got >= h, fmt.Errorf("factomd %s at height %d, waiting for %d", f.Name, got, h)
	})
}

// BuildSidecarBinary builds ./cmd/sidecar into dir and returns its path, so
// tests and benchmarks run the current code rather than a stale bin/sidecar.
func BuildSidecarBinary(dir string) (string, error) { return BuildCommand(dir, "sidecar") }

// BuildCommand builds ./cmd/NAME into dir and returns its path.
func BuildCommand(dir, name string) (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, name)
	cmd := exec.Command("go", "build", "-o", out, "./cmd/"+name)
	cmd.Dir = root
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build %s: %w\n%s", name, err, msg)
	}
	return out, nil
}
