package testenv

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"time"
)

// TCPProxy forwards loopback connections to a target and can cut them:
// the way tests partition a sidecar from the API server without touching
// either process.
type TCPProxy struct {
	target string
	addr   string

	lmu sync.Mutex
	l   net.Listener // nil while refusing

	mu    sync.Mutex
	cut   bool
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup

	// Answers (target → client) wait while held and for delay first.
	answerMu sync.Mutex
	delay    time.Duration
	held     chan struct{} // closed when not held

	// Requests (client → target) wait while requestsHeld is non-nil.
	requestsHeld    chan struct{} // closed by ReleaseRequests
	requestsWaiting int           // client chunks waiting on the hold
}

// StartTCPProxy listens on a free loopback port and forwards to target.
func StartTCPProxy(target string) (*TCPProxy, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("tcp proxy: %w", err)
	}
	open := make(chan struct{})
	close(open)
	p := &TCPProxy{target: target, addr: l.Addr().String(), l: l, conns: map[net.Conn]struct{}{}, held: open}
	p.wg.Add(1)
	go p.accept(l)
	return p, nil
}

// StartTCPProxyAvoiding is StartTCPProxy on a port none of avoid names:
// ports a process has been given but not yet bound (FreePort), which the
// kernel may otherwise hand to the proxy.
func StartTCPProxyAvoiding(target string, avoid ...string) (*TCPProxy, error) {
	for range 20 {
		p, err := StartTCPProxy(target)
		if err != nil || !slices.Contains(avoid, p.Addr()) {
			return p, err
		}
		defer p.Close() // held until a free one is found, then let go
	}
	return nil, errors.New("tcp proxy: no port apart from the ones to avoid")
}

// Addr is the proxy's host:port.
func (p *TCPProxy) Addr() string { return p.addr }

// Refuse closes the listening socket: new connections are refused
// (ECONNREFUSED), as at the port of a process that is gone, while the
// target lives on. Open connections stay.
func (p *TCPProxy) Refuse() {
	p.lmu.Lock()
	defer p.lmu.Unlock()
	if p.l != nil {
		p.l.Close()
		p.l = nil
	}
}

// Reopen listens on the same address again after Refuse.
func (p *TCPProxy) Reopen() error {
	p.lmu.Lock()
	defer p.lmu.Unlock()
	if p.l != nil {
		return nil
	}
	l, err := net.Listen("tcp", p.addr)
	if err != nil {
		return fmt.Errorf("tcp proxy: reopen %s: %w", p.addr, err)
	}
	p.l = l
	p.wg.Add(1)
	go p.accept(l)
	return nil
}

// Cut closes every open connection and refuses new ones until Restore.
func (p *TCPProxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	for c := range p.conns {
		c.Close()
	}
}

// Restore accepts connections again.
func (p *TCPProxy) Restore() {
	p.mu.Lock()
	p.cut = false
	p.mu.Unlock()
}

// SetDelay makes every answer from the target wait d before it is passed
// on (0: none): a slow server, as its clients see it.
func (p *TCPProxy) SetDelay(d time.Duration) {
	p.answerMu.Lock()
	p.delay = d
	p.answerMu.Unlock()
}

// Hold keeps every answer from the target (requests still go through)
// until Release: a server that did the work but whose answer is late.
func (p *TCPProxy) Hold() {
	p.answerMu.Lock()
	defer p.answerMu.Unlock()
	select {
	case <-p.held:
		p.held = make(chan struct{})
	default:
	}
}

// Release passes held answers on, and every later one.
func (p *TCPProxy) Release() {
	p.answerMu.Lock()
	defer p.answerMu.Unlock()
	select {
	case <-p.held:
	default:
		close(p.held)
	}
}

// HoldRequests stops forwarding what clients send (on open and new
// connections) until ReleaseRequests: requests wait in the proxy, as behind
// a server that is busy. Connections stay open.
func (p *TCPProxy) HoldRequests() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.requestsHeld == nil {
		p.requestsHeld = make(chan struct{})
	}
}

// ReleaseRequests forwards what HoldRequests kept back, and everything
// after it.
func (p *TCPProxy) ReleaseRequests() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.requestsHeld != nil {
		close(p.requestsHeld)
		p.requestsHeld = nil
	}
}

// RequestsWaiting is how many client writes the hold keeps back now.
func (p *TCPProxy) RequestsWaiting() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.requestsWaiting
}

func (p *TCPProxy) waitRequestHold() {
	p.mu.Lock()
	held := p.requestsHeld
	if held == nil {
		p.mu.Unlock()
		return
	}
	p.requestsWaiting++
	p.mu.Unlock()
	<-held
	p.mu.Lock()
	p.requestsWaiting--
	p.mu.Unlock()
}

// copyRequests copies client bytes to the target, waiting on the request
// hold before each write.
func (p *TCPProxy) copyRequests(out, in net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := in.Read(buf)
		if n > 0 {
			p.waitRequestHold()
			if _, werr := out.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// answerGate returns what an answer waits for now.
func (p *TCPProxy) answerGate() (time.Duration, <-chan struct{}) {
	p.answerMu.Lock()
	defer p.answerMu.Unlock()
	return p.delay, p.held
}

// copyAnswers passes the target's bytes to the client, each read waiting
// for the hold and the delay; it ends when either side closes.
func (p *TCPProxy) copyAnswers(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			delay, held := p.answerGate()
			if delay > 0 {
				time.Sleep(delay) // the fault itself: a slow answer
			}
			<-held
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// Close stops the proxy and closes every connection.
func (p *TCPProxy) Close() {
	p.Release()
	p.ReleaseRequests()
	p.Refuse()
	p.Cut()
	p.wg.Wait()
}

func (p *TCPProxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cut {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *TCPProxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

func (p *TCPProxy) accept(l net.Listener) {
	defer p.wg.Done()
	for {
		in, err := l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		if !p.track(in) {
			in.Close()
			continue
		}
		p.wg.Add(1)
		go p.forward(in)
	}
}

func (p *TCPProxy) forward(in net.Conn) {
	defer p.wg.Done()
	defer p.untrack(in)
	defer in.Close()
	out, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	if !p.track(out) {
		out.Close()
		return
	}
	defer p.untrack(out)
	defer out.Close()
	done := make(chan struct{}, 2)
	go func() { p.copyRequests(out, in); done <- struct{}{} }()
	go func() { p.copyAnswers(in, out); done <- struct{}{} }()
	<-done
}
