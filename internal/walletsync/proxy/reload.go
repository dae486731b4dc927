package proxy

import (
	"context"
	"time"

	"github.com/rs/zerolog"
)

// reloadEvery calls reload every interval until ctx ends. A failure is
// logged once until a reload succeeds again (a Secret update in progress
// fails a poll or two), a change every time; events are what+"_reloaded"
// and what+"_reload_failed".
func reloadEvery(ctx context.Context, every time.Duration, reload func() (bool, error), log zerolog.Logger, what, keeps string) {
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
		}
	}
}
