package bench

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Everything the benchmarks read from /proc: a process's memory, CPU time
// and threads, and the machine's CPU model, memory and load.

// ProcField is the value of the first "key: value" line of a /proc file
// ("" if there is none).
func ProcField(path, key string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// ProcKiB is a "key: N kB" field of a /proc file in KiB (0 if unknown).
func ProcKiB(path, key string) int64 {
	v, _, _ := strings.Cut(ProcField(path, key), " ")
	n, _ := strconv.ParseInt(v, 10, 64)
	return n
}

// rssKiB is VmRSS of a process (0 if unknown).
func rssKiB(pid int) int64 {
	return ProcKiB(fmt.Sprintf("/proc/%d/status", pid), "VmRSS")
}

// LoadAvg is /proc/loadavg's 1, 5 and 15 minute averages ("" if unknown).
func LoadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " / ")
}

// cpuTime is the process's user+system CPU time from /proc/<pid>/stat.
// Linux reports it in clock ticks of 1/100 s (USER_HZ, fixed at 100 on
// every architecture Go supports here).
func cpuTime(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("cpu: %w", err)
	}
	// The command name may hold spaces; fields start after its ')'.
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, errors.New("cpu: unexpected /proc stat format")
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, errors.New("cpu: short /proc stat")
	}
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("cpu: %w", err)
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond, nil
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
