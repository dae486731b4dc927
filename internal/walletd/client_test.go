package walletd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/factom-sidecar/factom-sidecar/internal/jsonrpc"
)

const testSecret = "Fs1KWJrpLdfucvmYwN2nWrwepLn8ercpMbzXshd1g8zyhKXLVLWj"

func fakeWalletd(t *testing.T, handler func(body string) (int, string)) *Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		status, out := handler(string(b))
		w.WriteHeader(status)
		fmt.Fprint(w, out)
	}))
	t.Cleanup(srv.Close)
	return New(jsonrpc.New(srv.URL, jsonrpc.Options{Timeout: 2 * time.Second}))
}

func TestErrorsNeverCarrySecrets(t *testing.T) {
	cases := []struct {
		name string
		resp string
		code int
	}{
		{"an error object whose data echoes the params", `{"jsonrpc":"2.0","id":1,"error":{"code":-32603,"message":"Internal error","data":"bad key ` + testSecret + `"}}`, 200},
		{"an error message that echoes the params", `{"jsonrpc":"2.0","id":1,"error":{"code":-32603,"message":"Internal error: ` + testSecret + `"}}`, 200},
		{"a result that does not decode", `{"jsonrpc":"2.0","id":1,"result":{"addresses":"` + testSecret + `"}}`, 200},
		{"an HTTP 500 with the params in the body", `panic: ` + testSecret, 500},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := fakeWalletd(t, func(string) (int, string) { return c.code, c.resp })
			_, err := w.ImportAddresses(context.Background(), Secret(testSecret))
			if err == nil {
				t.Fatal("no error")
			}
			if strings.Contains(err.Error(), testSecret) || strings.Contains(err.Error(), testSecret[:20]) {
				t.Fatalf("secret in error: %v", err)
			}
			var we *Error
			if !errors.As(err, &we) || we.Method != MethodImportAddresses {
				t.Fatalf("not a *walletd.Error: %v", err)
			}
		})
	}
}

func TestImportSendsSecrets(t *testing.T) {
	var got string
	w := fakeWalletd(t, func(body string) (int, string) {
		got = body
		return 200, `{"jsonrpc":"2.0","id":1,"result":{"addresses":[{"public":"FA1","secret":"` + testSecret + `"}]}}`
	})
	keys, err := w.ImportAddresses(context.Background(), Secret(testSecret))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(got, `"params":{"addresses":[{"secret":"`+testSecret+`"}]}`) {
		t.Fatalf("request %s", got)
	}
	if len(keys) != 1 || keys[0].Secret.Reveal() != testSecret || fmt.Sprint(keys[0]) == "" || strings.Contains(fmt.Sprintf("%v %+v", keys[0], keys[0]), testSecret) {
		t.Fatalf("keys %v", keys)
	}
}
