// Package logging builds the zerolog logger every mode shares.
package logging

import (
	"fmt"
	"io"
	"time"

	"github.com/go-logr/zerologr"
	"github.com/rs/zerolog"
	"k8s.io/klog/v2"
)

// Levels are the accepted --log-level values, most verbose first.
var Levels = []string{"debug", "info", "warn", "error"}

// ParseLevel turns a --log-level value into a zerolog level.
func ParseLevel(s string) (zerolog.Level, error) {
	for _, l := range Levels {
		if s == l {
			return zerolog.ParseLevel(s)
		}
	}
	return zerolog.NoLevel, fmt.Errorf("log level %q: want debug, info, warn or error", s)
}

// New returns a logger writing JSON (format "json") or human-readable lines
// (format "console") to w, with a timestamp and the component name, that
// drops lines below level. Debug adds a line per proxied read and per failed
// poll: useful while diagnosing, too much for a busy pod's log pipeline.
func New(w io.Writer, format, level, component string) (zerolog.Logger, error) {
	zerolog.TimeFieldFormat = time.RFC3339Nano
	lvl, err := ParseLevel(level)
	if err != nil {
		return zerolog.Nop(), err
	}
	switch format {
	case "json":
	case "console":
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.RFC3339}
	default:
		return zerolog.Nop(), fmt.Errorf("log format %q: want json or console", format)
	}
	return zerolog.New(w).Level(lvl).With().Timestamp().Str("component", component).Logger(), nil
}

// RouteKlog sends client-go's klog output (lease renewal errors, watch
// restarts, throttling notices) through log as JSON lines with
// "logger":"client-go", instead of klog's own text lines on stderr, so a
// log pipeline parses every line the sidecar prints. klog keeps its own
// verbosity (0), so only its default lines are passed on.
func RouteKlog(log zerolog.Logger) {
	klog.SetLogger(zerologr.New(&log).WithName("client-go"))
}
