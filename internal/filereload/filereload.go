// Package filereload polls files mounted from Secrets (certificates, user
// lists, sealing keys) so a rotated Secret takes effect without a restart.
package filereload

import (
	"context"
	"time"

	"github.com/rs/zerolog"
)

// Every calls reload every interval until ctx ends. A failure is logged
// once until a reload succeeds again (a Secret update in progress fails a
// poll or two), a change every time; events are what+"_reloaded" and
// what+"_reload_failed". keeps says what stays in force after a failure.
// onChange (optional) runs after each reload that changed something.
func Every(ctx context.Context, every time.Duration, reload func() (bool, error), log zerolog.Logger, what, keeps string, onChange func()) {
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
				log.Error().Str("event", what+"_reload_failed").Err(err).Msg("not reloaded; " + keeps)
			}
			lastErr = err.Error()
			continue
		}
		lastErr = ""
		if changed {
			log.Info().Str("event", what+"_reloaded").Msg("reloaded")
			if onChange != nil {
				onChange()
			}
		}
	}
}
