package bench

import (
	"os"
	"time"
)

// Each area's measurement is a struct with setup (programs started),
// trials (the samples taken) and summary (the figures), and a closers
// that stops what setup started.

// closers runs cleanups in reverse order, as defers in one function would.
type closers []func()

func (c *closers) onClose(f func()) { *c = append(*c, f) }

func (c *closers) close() {
	for i := len(*c) - 1; i >= 0; i-- {
		(*c)[i]()
	}
	*c = nil
}

// workDir is dir, or a new temporary directory removed on close.
func (c *closers) workDir(dir, pattern string) (string, error) {
	if dir != "" {
		return dir, nil
	}
	d, err := os.MkdirTemp("", pattern)
	if err != nil {
		return "", err
	}
	c.onClose(func() { os.RemoveAll(d) })
	return d, nil
}

// orDefault sets an option left at zero (or below) to its default.
func orDefault[T int | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}

// quiet is the Progress of a run that was given none.
func quiet(p *func(string)) {
	if *p == nil {
		*p = func(string) {}
	}
}
