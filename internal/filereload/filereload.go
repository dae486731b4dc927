// Package filereload polls files mounted from Secrets (certificates, user
// lists, sealing keys) so a rotated Secret takes effect without a restart.
package filereload

import (
	"context"
	"time"

	"github.com/rs/zerolog"
)

// Events are the log event names of one reloaded thing.
type Events struct{ Reloaded, Failed string }

// Every calls reload every interval until ctx ends. A failure is logged
// once until a reload succeeds again (a Secret update in progress fails a
// poll or two), as ev.Failed; a change every time, as ev.Reloaded. keeps
// says what stays in force after a failure. onChange (optional) runs after
// each reload that changed something.
func Every(ctx context.Context, every time.Duration, reload func() (bool, error), log zerolog.Logger, ev Events, keeps string, onChange func()) {
	t := time.NewTicker(every)
	defer t.Stop()
	var lastErr string
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		changed, err := reload()
		if err != nil {
			if err.Error() != lastErr {
				log.Error().Str("event", ev.Failed).Err(err).Msg("not reloaded; " + keeps)
			}
			lastErr = err.Error()
			continue
		}
		lastErr = ""
		if changed {
			log.Info().Str("event", ev.Reloaded).Msg("reloaded")
			if onChange != nil {
				onChange()
			}
		}
	}
}
