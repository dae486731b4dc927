package walletsync_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/factom-sidecar/factom-sidecar/internal/walletd"
	"github.com/factom-sidecar/factom-sidecar/internal/walletsync/keystore"
	"github.com/factom-sidecar/factom-sidecar/internal/walletsync/proxy"
	"github.com/factom-sidecar/factom-sidecar/internal/walletsync/store"
	"github.com/factom-sidecar/factom-sidecar/test/testenv"
)

// keyVolume is one pod's view of the key Secret mounted as a volume: the
// files "key" and "previous" are symlinks into "..data", which is swapped
// atomically to a new directory on each update, as the kubelet does. Pods
// see an update at different moments, so each replica gets its own.
type keyVolume struct {
	dir     string
	version int
	files   *keystore.KeyFiles
}

func newKeyVolume(t *testing.T, current *keystore.SealKey) *keyVolume {
	t.Helper()
	v := &keyVolume{dir: t.TempDir()}
	for _, name := range []string{"key", "previous"} {
		if err := os.Symlink(filepath.Join("..data", name), filepath.Join(v.dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	v.set(t, current, nil)
	files, err := keystore.LoadKeyFiles(filepath.Join(v.dir, "key"), []string{filepath.Join(v.dir, "previous")})
	if err != nil {
		t.Fatal(err)
	}
	v.files = files
	return v
}

// set publishes a new version of the Secret: key current, and previous
// (absent when nil).
func (v *keyVolume) set(t *testing.T, current, previous *keystore.SealKey) {
	t.Helper()
	v.version++
	data := filepath.Join(v.dir, fmt.Sprintf(".v%d", v.version))
	if err := os.Mkdir(data, 0o700); err != nil {
		t.Fatal(err)
	}
	write := func(name string, k *keystore.SealKey) {
		if err := os.WriteFile(filepath.Join(data, name), []byte(hexKey(t, k)+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("key", current)
	if previous != nil {
		write("previous", previous)
	}
	tmp := filepath.Join(v.dir, "..data_tmp")
	if err := os.Symlink(filepath.Base(data), tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(v.dir, "..data")); err != nil {
		t.Fatal(err)
	}
}

func keyIDs(rep *replica) []string {
	ids, _ := rep.r.KeyStatus()["keystoreKeyIds"].([]string)
	return ids
}

// waitKeys waits until every replica has read the key files as ids.
func waitKeys(t *testing.T, reps []*replica, ids ...string) {
	t.Helper()
	for _, rep := range reps {
		err := testenv.Eventually(20*time.Second, 20*time.Millisecond, func() (bool, error) {
			return slices.Equal(keyIDs(rep), ids), fmt.Errorf("%s holds keys %v, want %v", rep.name, keyIDs(rep), ids)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

func secretKeyID(t *testing.T) string {
	t.Helper()
	sec, err := adminClient(t).CoreV1().Secrets(testenv.KubeTestNamespace).Get(context.Background(), testSecret, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return sec.Annotations[store.AnnotationKeyID]
}

// waitSealedWith waits until the Secret is sealed with id and every
// replica has applied (or, the leader, committed) a version sealed with it
// and is in sync.
func waitSealedWith(t *testing.T, reps []*replica, id string) {
	t.Helper()
	err := testenv.Eventually(30*time.Second, 20*time.Millisecond, func() (bool, error) {
		if got := secretKeyID(t); got != id {
			return false, fmt.Errorf("the Secret is sealed with %s, want %s", got, id)
		}
		for _, rep := range reps {
			if got := rep.r.KeyStatus()["keystoreSealedKeyId"]; got != id || !rep.r.InSync() {
				return false, fmt.Errorf("%s: last version sealed with %v, in sync %v (%s)", rep.name, got, rep.r.InSync(), rep.r.ReadyCheck()().Reason)
			}
		}
		return true, nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// writeLoop generates EC addresses through the real proxy until stopped,
// counting acknowledged and failed writes.
type writeLoop struct {
	ok, failed atomic.Int64
	mu         sync.Mutex
	acked      []string
	lastErr    string
	stop       chan struct{}
	done       chan struct{}
}

func startWriteLoop(t *testing.T, url string, seen *secrets) *writeLoop {
	l := &writeLoop{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(l.done)
		for {
			select {
			case <-l.stop:
				return
			default:
			}
			ans := rpcCall(t, url, walletd.MethodGenerateECAddress, nil)
			if ans.Error != nil || ans.Result == nil {
				l.failed.Add(1)
				l.mu.Lock()
				if ans.Error != nil {
					l.lastErr = ans.Error.Message
				}
				l.mu.Unlock()
				continue
			}
			k := generated(t, ans.Result)
			seen.addKeys(k)
			l.mu.Lock()
			l.acked = append(l.acked, k.Public)
			l.mu.Unlock()
			l.ok.Add(1)
		}
	}()
	return l
}

// waitWrites waits for n more acknowledged writes.
func (l *writeLoop) waitWrites(t *testing.T, n int64) {
	t.Helper()
	want := l.ok.Load() + n
	if err := testenv.Eventually(60*time.Second, 10*time.Millisecond, func() (bool, error) {
		return l.ok.Load() >= want, fmt.Errorf("%d writes acknowledged, want %d", l.ok.Load(), want)
	}); err != nil {
		t.Fatal(err)
	}
}

// TestSealingKeyRotation takes three replicas from key A to key B with no
// client write (the leader re-seals on its own), then from B to C under a
// write loop through the proxy, each time by the documented procedure (add
// the new key as a previous key everywhere; make it current with the old
// one as previous; remove the old one). No write fails, every replica stays
// in sync and holds every acknowledged key, and a Secret sealed with an old
// key opens only while that key is listed.
func TestSealingKeyRotation(t *testing.T) {
	freshKeystore(t)
	a, b, c := newSealKey(t), newSealKey(t), newSealKey(t)
	seen := &secrets{}
	for _, k := range []*keystore.SealKey{a, b, c} {
		seen.AddKey(testKeyBytes[k])
	}
	vols := []*keyVolume{newKeyVolume(t, a), newKeyVolume(t, a), newKeyVolume(t, a)}
	leader := newLeader(t, vols[0].files, testPods[0], 1)
	leader.follow(t) // the loop that reloads keys and re-seals
	reps := []*replica{leader, newFollower(t, vols[1].files, testPods[1]), newFollower(t, vols[2].files, testPods[2])}
	b0, err := leader.w.client.WalletBackup(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	seen.addBackup(b0)
	waitSealedWith(t, reps, a.ID())
	sealedWithA, err := adminClient(t).CoreV1().Secrets(testenv.KubeTestNamespace).Get(context.Background(), testSecret, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// opens reports whether a pod's keys open the copy sealed with A.
	opens := func(vol *keyVolume) error {
		_, err := newStore(t, vol.files).Decode(sealedWithA)
		return err
	}

	rotate := func(from, to *keystore.SealKey) {
		for _, v := range vols {
			v.set(t, from, to)
		}
		waitKeys(t, reps, from.ID(), to.ID())
		// The leader's pod sees the switch first; a follower that has
		// not seen it yet opens the re-sealed Secret with its previous key.
		for _, v := range vols {
			v.set(t, to, from)
		}
		waitKeys(t, reps, to.ID(), from.ID())
		waitSealedWith(t, reps, to.ID())
		for _, v := range vols {
			v.set(t, to, nil)
		}
		waitKeys(t, reps, to.ID())
	}

	rotate(a, b)
	if !strings.Contains(leader.logs.String(), `"event":"keystore_resealed"`) {
		t.Error("the leader did not log keystore_resealed after an idle rotation")
	}
	if err := opens(vols[1]); !errors.Is(err, keystore.ErrWrongKey) {
		t.Errorf("a Secret sealed with A opened after A was removed: %v", err)
	}

	p := serveProxy(t, leader, leader.w.addr, proxy.Options{})
	loop := startWriteLoop(t, p.url, seen)
	loop.waitWrites(t, 5)
	for _, v := range vols {
		v.set(t, b, a) // A listed again (as an operator restoring an old backup would)
	}
	waitKeys(t, reps, b.ID(), a.ID())
	if err := opens(vols[1]); err != nil {
		t.Errorf("a Secret sealed with A did not open while A is listed: %v", err)
	}
	for _, v := range vols {
		v.set(t, b, nil)
	}
	rotate(b, c)
	loop.waitWrites(t, 5)
	close(loop.stop)
	<-loop.done
	if n := loop.failed.Load(); n != 0 {
		t.Errorf("%d writes failed during the rotations (last: %s)", n, loop.lastErr)
	}
	t.Logf("%d writes acknowledged during the rotation under load", loop.ok.Load())

	waitSealedWith(t, reps, c.ID())
	for _, rep := range reps[1:] {
		waitApplied(t, rep, leader.r.AppliedGeneration())
		_, keys := keySet(t, rep.w)
		held := publics(keys)
		for _, pub := range loop.acked {
			if !slices.Contains(held, pub) {
				t.Errorf("%s lacks acknowledged key %s", rep.name, pub)
			}
		}
	}
	for _, rep := range reps {
		seen.check(t, rep.name+" logs", rep.logs.String())
		seen.check(t, rep.name+" walletd output", rep.w.proc.Logs())
		for _, e := range eventsFor(t, rep.name, "") {
			seen.check(t, rep.name+" events", e)
		}
	}
}
