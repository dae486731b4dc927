package health_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"
)

func get(url string) (int, map[string]any, error) {
	resp, err := httpClient.Get(url)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return 0, nil, err
	}
	var body map[string]any
	if err := json.Unmarshal(data, &body); err != nil {
		return resp.StatusCode, nil, fmt.Errorf("%s: %w: %s", url, err, data)
	}
	return resp.StatusCode, body, nil
}

type sample struct {
	at   time.Time
	path string
	code int
	body map[string]any
	err  error
}

// sampler polls the probes in the background for the whole run.
type sampler struct {
	mu      sync.Mutex
	samples []sample
	cancel  context.CancelFunc
	done    chan struct{}
}

func startSampler(base string, every time.Duration) *sampler {
	ctx, cancel := context.WithCancel(context.Background())
	s := &sampler{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			for _, p := range []string{"/readyz", "/livez", "/startupz"} {
				code, body, err := get(base + p)
				s.mu.Lock()
				s.samples = append(s.samples, sample{at: time.Now(), path: p, code: code, body: body, err: err})
				s.mu.Unlock()
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return s
}

func (s *sampler) stop() {
	s.cancel()
	<-s.done
}

func (s *sampler) of(path string) []sample {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []sample
	for _, x := range s.samples {
		if x.path == path {
			out = append(out, x)
		}
	}
	return out
}

func num(body map[string]any, key string) (int64, bool) {
	v, ok := body[key].(float64)
	return int64(v), ok
}
