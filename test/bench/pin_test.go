package bench

import (
	"testing"

	"golang.org/x/sys/unix"
)

func affinity(t *testing.T, tid int) unix.CPUSet {
	t.Helper()
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(tid, &set); err != nil {
		t.Fatal(err)
	}
	return set
}

func TestPinToOneCorePinsEveryThreadAndRestoresThem(t *testing.T) {
	before := map[int]unix.CPUSet{}
	for _, tid := range threads(0) {
		before[tid] = affinity(t, tid)
	}
	cpu := sharedCPU()
	restore, pinned := PinToOneCore()
	if cpu < 0 {
		restore()
		if pinned {
			t.Fatal("reported pinned on a process allowed only one core")
		}
		return
	}
	if !pinned {
		t.Fatal("not pinned")
	}
	for _, tid := range threads(0) {
		if set := affinity(t, tid); set.Count() != 1 || !set.IsSet(cpu) {
			t.Errorf("thread %d allowed %d cores while pinned, want only core %d", tid, set.Count(), cpu)
		}
	}
	restore()
	for tid, want := range before {
		var got unix.CPUSet
		if unix.SchedGetaffinity(tid, &got) != nil {
			continue // the thread has exited
		}
		if got != want {
			t.Errorf("thread %d: mask not restored", tid)
		}
	}
}
