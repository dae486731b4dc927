package bench

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"
)

// rawGet sends one fixed request over a keep-alive HTTP/1.1 connection and reads
// the response in the calling goroutine. net/http's client hands every
// request to two transport goroutines and allocates per request; on two
// shared cores those hand-offs and the client's own garbage collection show
// up in the very tail being measured. This client adds neither, so the
// latency it reports is the server's plus loopback, as close as a process on
// the same cores can get.
type rawGet struct {
	addr    string
	request []byte
	timeout time.Duration
	conn    net.Conn
	r       *bufio.Reader
	// keepBody keeps the last response's body in body (reused) instead of
	// discarding it.
	keepBody bool
	body     []byte
}

func newRawGet(rawURL string, timeout time.Duration) (*rawGet, error) {
	return newRawRequest(http.MethodGet, rawURL, "", timeout)
}

// newRawRequest prepares method on rawURL; a non-empty body is sent as JSON.
func newRawRequest(method, rawURL, body string, timeout time.Duration) (*rawGet, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("raw get: %w", err)
	}
	if u.Scheme != "http" || u.Host == "" {
		return nil, fmt.Errorf("raw get: %q: want http://host:port/path", rawURL)
	}
	req := method + " " + u.RequestURI() + " HTTP/1.1\r\nHost: " + u.Host + "\r\nUser-Agent: factom-sidecar-bench\r\nAccept: */*\r\n"
	if body != "" {
		req += "Content-Type: application/json\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n"
	}
	req += "\r\n" + body
	return &rawGet{addr: u.Host, request: []byte(req), timeout: timeout}, nil
}

// Do sends the request and reads the whole response, returning its status.
// Any error closes the connection; the next Do dials again.
func (g *rawGet) Do() (int, error) {
	status, err := g.do()
	if err != nil {
		g.Close()
	}
	return status, err
}

func (g *rawGet) do() (int, error) {
	if g.conn == nil {
		c, err := net.DialTimeout("tcp", g.addr, g.timeout)
		if err != nil {
			return 0, err
		}
		g.conn = c
		g.r = bufio.NewReaderSize(c, 4096)
	}
	if err := g.conn.SetDeadline(time.Now().Add(g.timeout)); err != nil {
		return 0, err
	}
	if _, err := g.conn.Write(g.request); err != nil {
		return 0, err
	}
	line, err := g.r.ReadSlice('\n')
	if err != nil {
		return 0, err
	}
	status, err := parseStatusLine(line)
	if err != nil {
		return 0, err
	}
	length, closeAfter := -1, false
	for {
		line, err := g.r.ReadSlice('\n')
		if err != nil {
			return 0, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return 0, fmt.Errorf("malformed header line %q", line)
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			n, err := strconv.Atoi(string(value))
			if err != nil || n < 0 {
				return 0, fmt.Errorf("bad Content-Length %q", value)
			}
			length = n
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			return 0, errors.New("chunked responses are not supported")
		case bytes.EqualFold(name, []byte("Connection")) && bytes.EqualFold(value, []byte("close")):
			closeAfter = true
		}
	}
	if length < 0 {
		return 0, errors.New("response without Content-Length")
	}
	if g.keepBody {
		g.body = slices.Grow(g.body[:0], length)[:length]
		if _, err := io.ReadFull(g.r, g.body); err != nil {
			return 0, err
		}
	} else if _, err := g.r.Discard(length); err != nil {
		return 0, err
	}
	if closeAfter {
		g.Close()
	}
	return status, nil
}

// parseStatusLine reads the code of "HTTP/1.1 200 OK\r\n".
func parseStatusLine(line []byte) (int, error) {
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
		return 0, fmt.Errorf("malformed status line %q", bytes.TrimSpace(line))
	}
	code := 0
	for _, c := range line[9:12] {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("malformed status line %q", bytes.TrimSpace(line))
		}
		code = code*10 + int(c-'0')
	}
	return code, nil
}

// Close drops the connection.
func (g *rawGet) Close() {
	if g.conn != nil {
		_ = g.conn.Close()
		g.conn, g.r = nil, nil
	}
}
