package bench

import (
	"context"
	"fmt"
	"net/http"
	"runtime/debug"
	"sync"
	"time"
)

// loadRun is one target's share of healthLoad.
type loadRun struct {
	lat  []time.Duration
	errs int
	busy time.Duration // time spent in this target's blocks
}

func (r loadRun) rate() float64 {
	if r.busy <= 0 {
		return 0
	}
	return float64(len(r.lat)+r.errs) / r.busy.Seconds()
}

func (r loadRun) summary() LatencyRun {
	out := LatencyRun{Requests: len(r.lat), Errors: r.errs, Rate: r.rate()}
	l := Summarize(r.lat)
	out.P50, out.P99, out.Max = l.P50, l.P99, l.Max
	return out
}

// healthLoad sends opts.Requests GETs to each URL, paced at opts.Rate from
// opts.Workers workers over keep-alive connections (rawGet). The targets
// take turns in blocks of one second's requests, so a slow minute on the
// machine falls on all of them alike while only one is loaded at a time.
// Pacing follows a schedule, not a ticker: a request that is late goes out
// at once, so the achieved rate is the asked one unless the server cannot
// keep up. Each latency runs from writing the request to reading the last
// byte of the body. The generator's garbage collector is off while it runs
// (it allocates nothing per request) so its pauses are not in the figures.
func healthLoad(ctx context.Context, urls []string, opts HealthOptions) ([]loadRun, error) {
	clients := make([][]*rawGet, len(urls))
	for i, u := range urls {
		for range opts.Workers {
			g, err := newRawGet(u, 5*time.Second)
			if err != nil {
				return nil, err
			}
			clients[i] = append(clients[i], g)
			defer g.Close()
		}
	}
	runs := make([]loadRun, len(urls))
	for i := range runs {
		runs[i].lat = make([]time.Duration, 0, opts.Requests)
	}
	defer debug.SetGCPercent(debug.SetGCPercent(-1))

	interval := time.Second / time.Duration(opts.Rate)
	block := opts.Rate
	for sent := 0; sent < opts.Requests; sent += block {
		n := min(block, opts.Requests-sent)
		for i := range urls {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			// Warm this target's connections so a dial is not timed.
			for _, g := range clients[i] {
				if _, err := g.Do(); err != nil {
					return nil, fmt.Errorf("load %s: %w", urls[i], err)
				}
			}
			took := healthBlock(clients[i], n, interval, &runs[i])
			runs[i].busy += took
		}
	}
	return runs, ctx.Err()
}

// healthBlock sends n requests spread over the workers' connections, one
// every interval, and records their latencies in run.
func healthBlock(clients []*rawGet, n int, interval time.Duration, run *loadRun) time.Duration {
	var mu sync.Mutex
	next := make(chan struct{})
	var wg sync.WaitGroup
	for _, g := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range next {
				t0 := time.Now()
				status, err := g.Do()
				d := time.Since(t0)
				mu.Lock()
				if err != nil || status != http.StatusOK {
					run.errs++
				} else {
					run.lat = append(run.lat, d)
				}
				mu.Unlock()
			}
		}()
	}
	start := time.Now()
	for i := range n {
		if wait := time.Until(start.Add(time.Duration(i) * interval)); wait > 0 {
			time.Sleep(wait)
		}
		next <- struct{}{}
	}
	close(next)
	wg.Wait()
	return time.Since(start)
}
