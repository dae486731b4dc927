package bench

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/factom-sidecar/factom-sidecar/test/testenv"
)

// member is one election participant played by local processes. start
// (re)starts it and returns its /leader address and process.
type member struct {
	name   string
	start  func() (listen string, proc *testenv.Process, err error)
	listen string
	proc   *testenv.Process
}

func (m *member) run() error {
	listen, proc, err := m.start()
	if err != nil {
		return err
	}
	m.listen, m.proc = listen, proc
	// Up once it answers /leader (either way).
	return testenv.Eventually(30*time.Second, 20*time.Millisecond, func() (bool, error) {
		if m.proc.Exited() {
			return false, fmt.Errorf("%s exited: %s", m.name, strings.ReplaceAll(testenv.Tail(m.proc.Logs(), 500), "\n", " | "))
		}
		_, err := leaderCode(m.listen)
		return err == nil, err
	})
}

// processMember runs bin with args(listen) on a free port.
func processMember(name, bin, dir string, args func(listen string) []string) *member {
	starts := 0
	return &member{name: name, start: func() (string, *testenv.Process, error) {
		port, err := testenv.FreePort()
		if err != nil {
			return "", nil, err
		}
		listen := fmt.Sprintf("127.0.0.1:%d", port)
		starts++
		p, err := testenv.Start(name, bin, args(listen), nil, filepath.Join(dir, fmt.Sprintf("%s-%d.log", name, starts)))
		return listen, p, err
	}}
}

// podMember is a walletd pod of the cluster harness; restarts start its
// sidecar again (walletd keeps running, as in a container restart).
func podMember(p *testenv.WalletPod) *member {
	first := true
	m := &member{name: p.Name}
	m.start = func() (string, *testenv.Process, error) {
		if !first {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if err := p.StartSidecar(ctx); err != nil {
				return "", nil, err
			}
		}
		first = false
		return p.Listen, p.Sidecar, nil
	}
	return m
}

var benchHTTP = &http.Client{Timeout: time.Second}

func leaderCode(listen string) (int, error) {
	resp, err := benchHTTP.Get("http://" + listen + "/leader")
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// group is three participants sharing one Lease.
type group struct{ members []*member }

func (g *group) stop() {
	for _, m := range g.members {
		if m.proc != nil {
			m.proc.Stop(20 * time.Second)
		}
	}
}

// leader waits for a member answering 200, ignoring skip.
func (g *group) leader(skip *member, timeout time.Duration, interval time.Duration) (*member, time.Time, error) {
	var found *member
	var at time.Time
	err := testenv.Eventually(timeout, interval, func() (bool, error) {
		for _, m := range g.members {
			if m == skip || m.proc.Exited() {
				continue
			}
			if code, err := leaderCode(m.listen); err == nil && code == http.StatusOK {
				found, at = m, time.Now()
				return true, nil
			}
		}
		return false, nil
	})
	return found, at, err
}

// failover kills (or terminates) the leader trials times and measures the
// time until another member answers 200; the old member is started again
// after each trial, as the kubelet restarts a container.
func (g *group) failover(sig syscall.Signal, trials int, settle time.Duration, progress func(string)) ([]time.Duration, error) {
	var out []time.Duration
	for i := range trials {
		old, _, err := g.leader(nil, 2*time.Minute, 20*time.Millisecond)
		if err != nil {
			return nil, fmt.Errorf("no leader before trial %d: %w", i, err)
		}
		// Followers have seen a few renewals; kill at a random phase of
		// the renewal cycle (the settle time is not a condition wait).
		time.Sleep(settle)
		t0 := time.Now()
		if err := old.proc.Signal(sig); err != nil {
			return nil, err
		}
		_, t1, err := g.leader(old, 2*time.Minute, 2*time.Millisecond)
		if err != nil {
			return nil, fmt.Errorf("no new leader in trial %d: %w", i, err)
		}
		out = append(out, t1.Sub(t0))
		progress(fmt.Sprintf("  trial %d: %s", i+1, t1.Sub(t0).Round(time.Millisecond)))
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err = old.proc.Wait(ctx)
		cancel()
		if err != nil && !old.proc.Exited() {
			return nil, fmt.Errorf("%s did not exit: %w", old.name, err)
		}
		if err := old.run(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// pause stops the leader (SIGSTOP) trials times and measures the time
// until another member answers 200; the old member continues (SIGCONT)
// after each trial and rejoins as a follower.
func (g *group) pause(trials int, settle time.Duration, progress func(string)) ([]time.Duration, error) {
	var out []time.Duration
	for i := range trials {
		old, _, err := g.leader(nil, 2*time.Minute, 20*time.Millisecond)
		if err != nil {
			return nil, fmt.Errorf("no leader before pause trial %d: %w", i, err)
		}
		time.Sleep(settle) // a random phase of the renewal cycle, as in failover
		t0 := time.Now()
		if err := old.proc.Signal(syscall.SIGSTOP); err != nil {
			return nil, err
		}
		_, t1, err := g.leader(old, 2*time.Minute, 2*time.Millisecond)
		if cerr := old.proc.Signal(syscall.SIGCONT); cerr != nil && err == nil {
			err = cerr
		}
		if err != nil {
			return nil, fmt.Errorf("no new leader in pause trial %d: %w", i, err)
		}
		out = append(out, t1.Sub(t0))
		progress(fmt.Sprintf("  trial %d: %s", i+1, t1.Sub(t0).Round(time.Millisecond)))
	}
	return out, nil
}
