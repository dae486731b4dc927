package testenv

import (
	"bufio"
	"errors"
	"net"
	"syscall"
	"testing"
	"time"
)

func echoServer(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					if _, err := c.Write([]byte(line)); err != nil {
						return
					}
				}
			}()
		}
	}()
	return l.Addr().String()
}

func roundTrip(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte("ping\n")); err != nil {
		return err
	}
	_, err = bufio.NewReader(c).ReadString('\n')
	return err
}

func TestTCPProxyCutsAndRestores(t *testing.T) {
	p, err := StartTCPProxy(echoServer(t))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := roundTrip(p.Addr()); err != nil {
		t.Fatalf("before the cut: %v", err)
	}

	// An open connection dies with the cut.
	open, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close()
	if _, err := open.Write([]byte("x\n")); err != nil {
		t.Fatal(err)
	}
	if _, err := bufio.NewReader(open).ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	p.Cut()
	_ = open.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := open.Read(make([]byte, 1)); err == nil {
		t.Fatal("an open connection survived the cut")
	}
	if err := roundTrip(p.Addr()); err == nil {
		t.Fatal("a new connection went through while cut")
	}

	p.Restore()
	if err := roundTrip(p.Addr()); err != nil {
		t.Fatalf("after restore: %v", err)
	}
}

func TestTCPProxyHoldsAndDelaysAnswers(t *testing.T) {
	p, err := StartTCPProxy(echoServer(t))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)

	p.Hold()
	if _, err := c.Write([]byte("held\n")); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if line, err := r.ReadString('\n'); err == nil {
		t.Fatalf("answer %q passed while held", line)
	}
	p.Release()
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if line, err := r.ReadString('\n'); err != nil || line != "held\n" {
		t.Fatalf("after release: %q %v", line, err)
	}

	p.SetDelay(200 * time.Millisecond)
	start := time.Now()
	if _, err := c.Write([]byte("slow\n")); err != nil {
		t.Fatal(err)
	}
	if line, err := r.ReadString('\n'); err != nil || line != "slow\n" {
		t.Fatalf("delayed: %q %v", line, err)
	}
	if took := time.Since(start); took < 200*time.Millisecond {
		t.Fatalf("answer came after %s, before the delay", took)
	}
}

func TestTCPProxyHoldKeepsRequestsBackUntilRelease(t *testing.T) {
	p, err := StartTCPProxy(echoServer(t))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	p.HoldRequests()
	done := make(chan error, 1)
	go func() { done <- roundTrip(p.Addr()) }()
	if err := Eventually(5*time.Second, 5*time.Millisecond, func() (bool, error) { return p.RequestsWaiting() == 1, nil }); err != nil {
		t.Fatalf("the request never reached the hold: %v", err)
	}
	select {
	case err := <-done:
		t.Fatalf("answered while held: %v", err)
	default:
	}
	p.ReleaseRequests()
	if err := <-done; err != nil {
		t.Fatalf("after release: %v", err)
	}
	if err := roundTrip(p.Addr()); err != nil {
		t.Fatalf("after release, a new connection: %v", err)
	}
}

func TestTCPProxyRefusesAndReopens(t *testing.T) {
	p, err := StartTCPProxy(echoServer(t))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	p.Refuse()
	if err := roundTrip(p.Addr()); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("while refusing: %v, want connection refused", err)
	}
	if err := p.Reopen(); err != nil {
		t.Fatal(err)
	}
	if err := roundTrip(p.Addr()); err != nil {
		t.Fatalf("after reopening: %v", err)
	}
}
