package bench

import (
	"os"
	"runtime"
	"slices"
	"strconv"

	"golang.org/x/sys/unix"
)

// sharedCPU is the core the latency runs' processes share when pinned, or
// -1 on a machine with a single core (nothing to pin).
func sharedCPU() int {
	if runtime.NumCPU() < 2 {
		return -1
	}
	return 0
}

// pinProcesses pins every thread of each process (0: this one) to cpu, as
// `taskset -a -p` does, and returns the function that restores each
// thread's previous mask. Threads started meanwhile inherit the pin from the
// thread that starts them and get every core back on restore. Go's
// LockOSThread is not used for the generator: a goroutine locked to a
// thread is woken through a hand-off between threads, the very latency
// being measured. A thread that cannot be pinned stays as it was, which
// only makes the figures noisier.
func pinProcesses(cpu int, pids ...int) (restore func()) {
	if cpu < 0 {
		return func() {}
	}
	var set unix.CPUSet
	set.Set(cpu)
	type thread struct{ pid, tid int }
	saved := map[thread]unix.CPUSet{}
	pids = slices.Compact(slices.Sorted(slices.Values(pids)))
	for _, pid := range pids {
		for _, tid := range threads(pid) {
			var old unix.CPUSet
			if unix.SchedGetaffinity(tid, &old) != nil {
				continue
			}
			if unix.SchedSetaffinity(tid, &set) == nil {
				saved[thread{pid, tid}] = old
			}
		}
	}
	return func() {
		var all unix.CPUSet
		for i := range runtime.NumCPU() {
			all.Set(i)
		}
		for _, pid := range pids {
			for _, tid := range threads(pid) {
				mask, ok := saved[thread{pid, tid}]
				if !ok {
					mask = all // started while pinned
				}
				_ = unix.SchedSetaffinity(tid, &mask)
			}
		}
	}
}

// threads lists the thread ids of pid (0: this process).
func threads(pid int) []int {
	dir := "/proc/self/task"
	if pid != 0 {
		dir = "/proc/" + strconv.Itoa(pid) + "/task"
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var tids []int
	for _, e := range entries {
		if tid, err := strconv.Atoi(e.Name()); err == nil {
			tids = append(tids, tid)
		}
	}
	return tids
}

// PinToOneCore pins this process and the processes pids to one shared core
// for a latency run (see pinProcesses) and reports whether it did; restore
// gives every thread its cores back.
func PinToOneCore(pids ...int) (restore func(), pinned bool) {
	cpu := sharedCPU()
	return pinProcesses(cpu, append([]int{0}, pids...)...), cpu >= 0
}
