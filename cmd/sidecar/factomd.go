package main

import (
	"context"
	"flag"
)

// factomdMode runs next to factomd. Its wiring to internal/health lives here.
type factomdMode struct{}

func (m *factomdMode) RegisterFlags(fs *flag.FlagSet) {}
func (m *factomdMode) Validate() error                { return nil }
func (m *factomdMode) Setup(rt *runtime) error        { return nil }
func (m *factomdMode) Run(ctx context.Context) error  { <-ctx.Done(); return nil }
