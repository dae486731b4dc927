package health_test

import (
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/factom-sidecar/factom-sidecar/test/testenv"
)

// A real factomd started with -startdelay answers heights at once but
// "Not fully booted" to balance look-ups until the delay has passed: the
// sidecar keeps it out of the Service until then.
func TestBootingNodeIsNotReadyUntilBooted(t *testing.T) {
	n := need(t)
	dir := t.TempDir()
	node, err := testenv.StartFactomd("factomd-boot", testenv.FactomdOptions{Dir: dir, BlockTime: blockTime, StartDelay: 20})
	if err != nil {
		t.Fatal(err)
	}
	defer node.Stop(10 * time.Second)
	port, err := testenv.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	sc, err := testenv.Start("sidecar-boot", filepath.Join(n.dir, "sidecar"), []string{"factomd",
		"--listen=127.0.0.1:" + strconv.Itoa(port), "--factomd-url=" + node.URL(),
		"--poll-interval=" + pollInterval.String(), "--poll-timeout=400ms", "--stale-after=2s", "--max-block-age=30s",
	}, nil, filepath.Join(dir, "sidecar.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Stop(10 * time.Second)
	defer func() {
		if t.Failed() {
			t.Logf("booting node's sidecar log:\n%s", sc.Logs())
		}
	}()

	sawNotBooted := false
	err = testenv.Eventually(2*time.Minute, 200*time.Millisecond, func() (bool, error) {
		code, body, err := get(base + "/readyz")
		if err != nil {
			return false, err
		}
		if body["reason"] == "not_booted" {
			sawNotBooted = true
			if code != http.StatusServiceUnavailable || body["booted"] != false {
				return false, fmt.Errorf("not_booted answered %d %v", code, body)
			}
		}
		return code == http.StatusOK, fmt.Errorf("readyz %d %v", code, body)
	})
	if err != nil {
		t.Fatalf("the booting node never became ready: %v", err)
	}
	if !sawNotBooted {
		t.Fatalf("never saw reason not_booted during the 20 s start delay")
	}
	_, body, err := get(base + "/readyz")
	if err != nil || body["booted"] != true {
		t.Fatalf("readyz once booted = %v (%v), want booted true", body, err)
	}
	logs := sc.Logs()
	if !strings.Contains(logs, `"reason":"not_booted"`) || !strings.Contains(logs, `"from":"not_booted"`) {
		t.Errorf("no readiness_changed lines into and out of not_booted")
	}
}
