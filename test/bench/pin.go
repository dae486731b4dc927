package bench

import (
	"slices"

	"golang.org/x/sys/unix"
)

// sharedCPU is the core the latency runs' processes share when pinned: the
// lowest this process may run on, or -1 when it may run on only one
// (nothing to pin).
func sharedCPU() int {
	var allowed unix.CPUSet
	if unix.SchedGetaffinity(0, &allowed) != nil || allowed.Count() < 2 {
		return -1
	}
	for cpu := 0; ; cpu++ {
		if allowed.IsSet(cpu) {
			return cpu
		}
	}
}

// pinProcesses pins every thread of each process (0: this one) to cpu, as
// `taskset -a -p` does, and returns the function that restores each
// thread's previous mask. Threads started meanwhile inherit the pin from the
// thread that starts them and get every core back on restore. Go's
// LockOSThread is not used for the generator: a goroutine locked to a
// thread is woken through a hand-off between threads, the very latency
// being measured. pinned reports whether every thread found was pinned; a
// thread that could not be stays as it was.
func pinProcesses(cpu int, pids ...int) (restore func(), pinned bool) {
	if cpu < 0 {
		return func() {}, false
	}
	pinned = true
	var set unix.CPUSet
	set.Set(cpu)
	type thread struct{ pid, tid int }
	saved := map[thread]unix.CPUSet{}
	pids = slices.Compact(slices.Sorted(slices.Values(pids)))
	for _, pid := range pids {
		for _, tid := range threads(pid) {
			var old unix.CPUSet
			if unix.SchedGetaffinity(tid, &old) != nil || unix.SchedSetaffinity(tid, &set) != nil {
				pinned = false
				continue
			}
			saved[thread{pid, tid}] = old
		}
	}
	return func() {
		for _, pid := range pids {
			// Threads started while pinned get the mask their process
			// had: that of any thread that was there before.
			var procMask unix.CPUSet
			for t, mask := range saved {
				if t.pid == pid {
					procMask = mask
					break
				}
			}
			for _, tid := range threads(pid) {
				mask, ok := saved[thread{pid, tid}]
				if !ok {
					mask = procMask
				}
				if mask.Count() > 0 {
					_ = unix.SchedSetaffinity(tid, &mask)
				}
			}
		}
	}, pinned
}

// PinToOneCore pins this process and the processes pids to one shared core
// for a latency run (see pinProcesses) and reports whether it did; restore
// gives every thread its cores back.
func PinToOneCore(pids ...int) (restore func(), pinned bool) {
	return pinProcesses(sharedCPU(), append([]int{0}, pids...)...)
}
