// Package logging builds the zerolog logger every mode shares.
package logging

import (
	"fmt"
	"io"
	"time"

	"github.com/rs/zerolog"
)

// New returns a logger writing JSON (format "json") or human-readable lines
// (format "console") to w, with a timestamp and the component name.
func New(w io.Writer, format, component string) (zerolog.Logger, error) {
	zerolog.TimeFieldFormat = time.RFC3339Nano
	switch format {
	case "json":
	case "console":
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.RFC3339}
	default:
		return zerolog.Nop(), fmt.Errorf("log format %q: want json or console", format)
	}
	return zerolog.New(w).With().Timestamp().Str("component", component).Logger(), nil
}
