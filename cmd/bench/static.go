package main

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/factom-sidecar/factom-sidecar/test/testenv"
)

// serveStaticArg is the hidden first argument that turns this binary into
// the static HTTP server of the /readyz baseline: a process of its own, as
// the sidecar is, so the baseline pays the same cross-process scheduling.
const serveStaticArg = "__serve-static"

// serveStatic answers every request with the file's bytes until killed.
func serveStatic(addr, bodyFile string) error {
	body, err := os.ReadFile(bodyFile)
	if err != nil {
		return fmt.Errorf("static body: %w", err)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("static listen: %w", err)
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Cache-Control", "no-store")
			_, _ = w.Write(body)
		}),
		ReadTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second, IdleTimeout: time.Minute,
	}
	if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// staticServer starts this binary again in serveStatic mode and waits until
// it answers.
func staticServer(dir string) func(body []byte) (string, int, func(), error) {
	return func(body []byte) (string, int, func(), error) {
		self, err := os.Executable()
		if err != nil {
			return "", 0, nil, err
		}
		bodyFile := filepath.Join(dir, "static-body.json")
		if err := os.WriteFile(bodyFile, body, 0o600); err != nil {
			return "", 0, nil, err
		}
		port, err := testenv.FreePort()
		if err != nil {
			return "", 0, nil, err
		}
		addr := "127.0.0.1:" + strconv.Itoa(port)
		p, err := testenv.Start("static", self, []string{serveStaticArg, addr, bodyFile}, nil, filepath.Join(dir, "static.log"))
		if err != nil {
			return "", 0, nil, err
		}
		url := "http://" + addr + "/readyz"
		c := &http.Client{Timeout: time.Second}
		err = testenv.Eventually(10*time.Second, 20*time.Millisecond, func() (bool, error) {
			if p.Exited() {
				return false, errors.New("static server exited: " + p.Logs())
			}
			resp, err := c.Get(url)
			if err != nil {
				return false, err
			}
			resp.Body.Close()
			return resp.StatusCode == http.StatusOK, nil
		})
		if err != nil {
			p.Stop(time.Second)
			return "", 0, nil, err
		}
		return url, p.Pid(), func() { p.Stop(5 * time.Second) }, nil
	}
}
