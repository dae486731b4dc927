package faults

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/factom-sidecar/factom-sidecar/test/faults/history"
	"github.com/factom-sidecar/factom-sidecar/test/testenv"
)

var (
	flagSeed      = flag.Uint64("faults.seed", 0, "run only the schedule with this seed (replays a failure)")
	flagBase      = flag.Uint64("faults.base", 1, "seed of the first schedule; schedule i runs seed base+i")
	flagSchedules = flag.Int("faults.schedules", 3, "number of schedules")
	flagDuration  = flag.Duration("faults.duration", 40*time.Second, "workload time of each schedule")
	flagClients   = flag.Int("faults.clients", 3, "writing clients per schedule")
	flagStrict    = flag.Bool("faults.strict", true, "count writes walletd applied but the store never committed, left on some replicas, as violations (-faults.strict=false reports them apart)")
	flagKeep      = flag.Bool("faults.keep", false, "keep each failing schedule's directory (pod logs, wallet files) and print where it is")
)

var env *Env

func TestMain(m *testing.M) {
	flag.Parse()
	Strict = *flagStrict
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if testing.Short() {
		fmt.Println("faults: needs the real API server and walletd; fault schedules skipped in -short runs")
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "factom-sidecar-faults-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	sidecar, err := testenv.BuildSidecarBinary(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	kube, err := testenv.StartKube(filepath.Join(dir, "kube"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer kube.Stop()
	env = &Env{Kube: kube, Sidecar: sidecar}
	return m.Run()
}

// replay is the command that runs one schedule again.
func replay(seed uint64) string {
	return fmt.Sprintf("go test ./faults -run TestFaultSchedules -count=1 -v -faults.seed=%d -faults.duration=%s", seed, *flagDuration)
}

// TestFaultSchedules runs the seeded schedules one after another and prints
// a summary line: schedules, faults injected by kind, writes acknowledged
// and failed, violations.
func TestFaultSchedules(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the real API server and walletd")
	}
	seeds := []uint64{*flagSeed}
	if *flagSeed == 0 {
		seeds = nil
		for i := range *flagSchedules {
			seeds = append(seeds, *flagBase+uint64(i))
		}
	}
	var (
		total   Totals
		started = time.Now()
	)
	for _, seed := range seeds {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			plan := NewPlan(seed, PlanOptions{Duration: *flagDuration, LeaseDuration: 4 * time.Second})
			t.Log(plan)
			ctx, cancel := context.WithTimeout(context.Background(), *flagDuration+6*time.Minute)
			defer cancel()
			dir, err := os.MkdirTemp("", fmt.Sprintf("faults-seed%d-", seed))
			if err != nil {
				t.Fatal(err)
			}
			res := Run(ctx, *env, Options{Dir: dir, Plan: plan, Clients: *flagClients, Logf: t.Logf})
			if res.Failed() && *flagKeep {
				t.Logf("seed=%d: pod logs and wallet files kept in %s", seed, dir)
			} else {
				os.RemoveAll(dir)
			}
			total.Add(res)
			t.Logf("seed=%d: %s", seed, res.Line())
			if res.Err != nil {
				t.Errorf("seed=%d: %v", seed, res.Err)
			}
			for _, v := range res.Broken() {
				t.Errorf("seed=%d: %s", seed, v)
			}
			if n := res.Leftovers(); n > 0 {
				for _, v := range res.Violations {
					if v.Rule == history.RuleLeftover {
						t.Logf("seed=%d: uncommitted leftover (a violation unless -faults.strict=false): %s", seed, v)
					}
				}
			}
			if res.Failed() {
				t.Errorf("seed=%d failed; replay it with:\n  %s", seed, replay(seed))
			}
		})
	}
	line := total.Line(time.Since(started))
	t.Log(line)
	fmt.Println(line)
	if total.Leftovers > 0 {
		t.Logf("schedules with uncommitted writes left on some replicas: %v", total.LeftoverSeeds)
	}
	if total.Failed > 0 {
		t.Errorf("failing seeds %v; replay one with: %s", total.FailedSeeds, replay(total.FailedSeeds[0]))
	}
}

func TestPlanIsDeterminedBySeed(t *testing.T) {
	o := PlanOptions{Duration: 60 * time.Second, LeaseDuration: 4 * time.Second}
	a, b := NewPlan(42, o), NewPlan(42, o)
	if a.String() != b.String() {
		t.Fatalf("one seed, two plans:\n%s\n%s", a, b)
	}
	if c := NewPlan(43, o); c.String() == a.String() {
		t.Fatal("seeds 42 and 43 drew the same plan")
	}
	kinds := map[FaultKind]bool{}
	for seed := range uint64(20) {
		p := NewPlan(seed, o)
		for i, s := range p.Steps {
			kinds[s.Kind] = true
			if s.At <= 0 || s.At >= o.Duration || (i > 0 && s.At < p.Steps[i-1].At+500*time.Millisecond) {
				t.Fatalf("seed %d step %d at %s: outside the duration or too close to the previous one", seed, i, s.At)
			}
			if s.Kind == PauseSidecar && s.Hold <= o.LeaseDuration {
				t.Fatalf("seed %d: a pause of %s does not outlast the %s lease", seed, s.Hold, o.LeaseDuration)
			}
			if s.Kind == Burst && (s.Writes < 10 || s.Writes > 30) {
				t.Fatalf("seed %d: a burst of %d writes", seed, s.Writes)
			}
		}
	}
	for _, k := range FaultKinds {
		if !kinds[k] {
			t.Errorf("20 plans never drew %s", k)
		}
	}
}

func TestSummaryLineCountsEverything(t *testing.T) {
	var tot Totals
	tot.Add(Result{Seed: 1, Faults: map[FaultKind]int{KillSidecar: 2, Burst: 1}})
	tot.Add(Result{Seed: 2, Faults: map[FaultKind]int{KillSidecar: 1}, Err: fmt.Errorf("did not converge")})
	tot.Add(Result{Seed: 3, Faults: map[FaultKind]int{TermSidecar: 2, SlowWalletd: 1, DeleteLease: 4}, Clients: map[ClientKind]int{Polite: 7, Reimport: 2, Malformed: 3}})
	line := tot.Line(90 * time.Second)
	for _, want := range []string{"schedules=3", "failing=1", "kill-sidecar=3", "burst=1", "pause-sidecar=0", "violations=0",
		"term-sidecar=2", "slow-walletd=1", "delete-lease=4", "clients{polite=7 reimport=2 partial=0 large-import=0 malformed=3}"} {
		if !strings.Contains(line, want) {
			t.Errorf("%q lacks %q", line, want)
		}
	}
	if !slices.Equal(tot.FailedSeeds, []uint64{2}) {
		t.Errorf("failed seeds %v, want [2]", tot.FailedSeeds)
	}
}
