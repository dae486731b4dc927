package testenv

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
)

// TCPProxy forwards loopback connections to a target and can cut them:
// the way tests partition a sidecar from the API server without touching
// either process. It can also hold what clients send, the way tests make
// a server slow without changing it.
type TCPProxy struct {
	target string
	l      net.Listener

	mu      sync.Mutex
	cut     bool
	conns   map[net.Conn]struct{}
	wg      sync.WaitGroup
	held    chan struct{} // non-nil while held; closed by Release
	waiting int           // client chunks waiting on the hold
}

// StartTCPProxy listens on a free loopback port and forwards to target.
func StartTCPProxy(target string) (*TCPProxy, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("tcp proxy: %w", err)
	}
	p := &TCPProxy{target: target, l: l, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr is the proxy's host:port.
func (p *TCPProxy) Addr() string { return p.l.Addr().String() }

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

// Hold stops forwarding what clients send (on open and new connections)
// until Release: requests wait in the proxy, as behind a server that is
// busy. Connections stay open.
func (p *TCPProxy) Hold() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.held == nil {
		p.held = make(chan struct{})
	}
}

// Release forwards what Hold kept back, and everything after it.
func (p *TCPProxy) Release() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.held != nil {
		close(p.held)
		p.held = nil
	}
}

// Waiting is how many client writes the hold keeps back now.
func (p *TCPProxy) Waiting() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.waiting
}

func (p *TCPProxy) waitHold() {
	p.mu.Lock()
	held := p.held
	if held == nil {
		p.mu.Unlock()
		return
	}
	p.waiting++
	p.mu.Unlock()
	<-held
	p.mu.Lock()
	p.waiting--
	p.mu.Unlock()
}

// Close stops the proxy and closes every connection.
func (p *TCPProxy) Close() {
	p.l.Close()
	p.Release()
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

func (p *TCPProxy) accept() {
	defer p.wg.Done()
	for {
		in, err := p.l.Accept()
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
	go func() { p.copyHeld(out, in); done <- struct{}{} }()
	go func() { _, _ = io.Copy(in, out); done <- struct{}{} }()
	<-done
}

// copyHeld copies client bytes to the target, waiting on the hold before
// each write.
func (p *TCPProxy) copyHeld(out, in net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := in.Read(buf)
		if n > 0 {
			p.waitHold()
			if _, werr := out.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
