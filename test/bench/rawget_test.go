package bench

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestRawGetKeepsTheConnectionAndReadsBodies(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.URL.Path == "/close" {
			w.Header().Set("Connection", "close")
		}
		_, _ = io.WriteString(w, r.Method+" "+string(b))
	}))
	defer srv.Close()

	g, err := newRawRequest(http.MethodPost, srv.URL+"/v2", `{"m":1}`, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	g.keepBody = true
	for range 3 {
		status, err := g.Do()
		if err != nil || status != 200 || string(g.body) != `POST {"m":1}` {
			t.Fatalf("Do = %d, %v, body %q", status, err, g.body)
		}
	}
	first := g.conn
	if _, err := g.Do(); err != nil || g.conn != first {
		t.Fatalf("connection not kept: %v", err)
	}

	c, err := newRawGet(srv.URL+"/close", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if status, err := c.Do(); err != nil || status != 200 || c.conn != nil {
		t.Fatalf("Connection: close: %d, %v, conn kept %v", status, err, c.conn != nil)
	}
}

func TestRawGetRefusesWhatItCannotTime(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.(http.Flusher).Flush() // forces chunked encoding
		_, _ = io.WriteString(w, "x")
	}))
	defer srv.Close()
	g, _ := newRawGet(srv.URL, time.Second)
	if _, err := g.Do(); err == nil || !strings.Contains(err.Error(), "chunked") {
		t.Fatalf("chunked response: err = %v", err)
	}
	if _, err := newRawGet("https://example.invalid/", time.Second); err == nil {
		t.Fatal("https accepted")
	}
	for _, line := range []string{"HTTP/1.1 2x0 OK\r\n", "HTTP/2 200\r\n", "garbage\r\n"} {
		if _, err := parseStatusLine([]byte(line)); err == nil {
			t.Errorf("status line %q accepted", line)
		}
	}
}
