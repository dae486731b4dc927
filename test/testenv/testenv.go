// Package testenv starts the real programs the integration tests and the
// demo run against (kube-apiserver, etcd, factomd, walletd, the sidecar) as
// local processes, from the binaries `make tools` caches in bin/.
package testenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// RepoRoot is the directory holding the project's go.mod, found by walking
// up from the working directory (tests run in their package directory).
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("repo root: %w", err)
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.HasPrefix(data, []byte("module github.com/factom-sidecar/factom-sidecar\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("repo root: no go.mod of factom-sidecar above the working directory")
		}
		dir = parent
	}
}

// Binary returns the path of a program built into bin/ by `make tools`.
// FACTOM_SIDECAR_BIN_DIR overrides the directory.
func Binary(name string) (string, error) {
	dir := os.Getenv("FACTOM_SIDECAR_BIN_DIR")
	if dir == "" {
		root, err := RepoRoot()
		if err != nil {
			return "", err
		}
		dir = filepath.Join(root, "bin")
	}
	path := filepath.Join(dir, name)
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("binary %s: %w (run `make tools` first)", name, err)
	}
	return path, nil
}

// FreePort returns a loopback TCP port that is free now and that this
// process has not handed out before.
//
// It picks from below the kernel's ephemeral range rather than asking
// for port 0: a port from that range, once released, can become the
// source port of any outgoing connection (a factomd dialling its peer,
// a test's HTTP client) before the program meant to listen on it binds,
// and that program then cannot listen and the port answers strangers.
// Ports below the range are only ever taken by a bind.
func FreePort() (int, error) {
	ports.mu.Lock()
	defer ports.mu.Unlock()
	lo, hi := unassignedPortRange()
	if ports.handed == nil {
		ports.handed = map[int]bool{}
		// A random start keeps test binaries run one after another from
		// walking the same ports in the same order.
		ports.next = lo + rand.IntN(hi-lo)
	}
	for range hi - lo {
		p := ports.next
		ports.next++
		if ports.next >= hi {
			ports.next = lo
		}
		if ports.handed[p] {
			continue
		}
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			continue
		}
		l.Close()
		ports.handed[p] = true
		return p, nil
	}
	return 0, fmt.Errorf("free port: none free in %d-%d", lo, hi-1)
}

var ports struct {
	mu     sync.Mutex
	handed map[int]bool
	next   int
}

// unassignedPortRange is [lo, hi): the ports from 20000 up to the start
// of the kernel's ephemeral range (32768 by default).
func unassignedPortRange() (lo, hi int) {
	lo, hi = 20000, 32768
	data, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return lo, hi
	}
	var first, last int
	if _, err := fmt.Sscan(string(data), &first, &last); err == nil && first > lo+1000 {
		hi = first
	} else if err == nil && last < 64000 {
		// The ephemeral range starts low: use the ports above it.
		lo, hi = last+1, 65536
	}
	return lo, hi
}

// Process is a program started in its own process group, with its combined
// output captured in a file so a failing test can show it.
type Process struct {
	Name    string
	LogPath string
	cmd     *exec.Cmd
	logFile *os.File
	done    chan struct{}
	mu      sync.Mutex
	waitErr error
}

// Start runs path with args; env entries are added to the current
// environment. Output goes to logPath.
func Start(name, path string, args, env []string, logPath string) (*Process, error) {
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	cmd := exec.Command(path, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &Process{Name: name, LogPath: logPath, cmd: cmd, logFile: logFile, done: make(chan struct{})}
	go func() {
		err := cmd.Wait()
		p.mu.Lock()
		p.waitErr = err
		p.mu.Unlock()
		logFile.Close()
		close(p.done)
	}()
	return p, nil
}

// Pid is the process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Signal sends sig to the process (not its group).
func (p *Process) Signal(sig syscall.Signal) error {
	if err := p.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("signal %s: %w", p.Name, err)
	}
	return nil
}

// Exited reports whether the process has ended.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Done is closed when the process has ended.
func (p *Process) Done() <-chan struct{} { return p.done }

// ExitCode is the exit code once the process has ended (-1 if killed by a
// signal or still running).
func (p *Process) ExitCode() int {
	if !p.Exited() {
		return -1
	}
	return p.cmd.ProcessState.ExitCode()
}

// Wait waits for the process to end or ctx to be done.
func (p *Process) Wait(ctx context.Context) error {
	select {
	case <-p.done:
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.waitErr
	case <-ctx.Done():
		return fmt.Errorf("wait %s: %w", p.Name, ctx.Err())
	}
}

// Stop sends SIGTERM (SIGCONT first, in case it is stopped) and kills the
// whole process group if it has not ended within grace.
func (p *Process) Stop(grace time.Duration) {
	if p.Exited() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGCONT)
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

// Kill sends SIGKILL to the process group and waits for the end.
func (p *Process) Kill() {
	if p.Exited() {
		return
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
}

// Logs returns what the process has printed so far.
func (p *Process) Logs() string {
	data, _ := os.ReadFile(p.LogPath)
	return string(data)
}

// Eventually polls cond every interval until it returns true, returns an
// error, or timeout passes. The last non-nil error from cond is reported on
// timeout so a failure says what was still wrong.
func Eventually(timeout, interval time.Duration, cond func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	var last error
	for {
		ok, err := cond()
		if ok {
			return nil
		}
		if err != nil {
			last = err
		}
		if time.Now().After(deadline) {
			if last != nil {
				return fmt.Errorf("condition not met within %s: %w", timeout, last)
			}
			return fmt.Errorf("condition not met within %s", timeout)
		}
		time.Sleep(interval)
	}
}

// Tail is the end of a log (or any text) for an error message: its last n
// bytes, trimmed, with "..." in front when it was cut.
func Tail(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}
