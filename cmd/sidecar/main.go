// Command sidecar runs next to factomd or factom-walletd in a Kubernetes pod:
// it serves probes from cached health verdicts and, next to walletd, takes
// part in leader election so exactly one walletd replica is writable.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"

	"github.com/factom-sidecar/factom-sidecar/internal/config"
	"github.com/factom-sidecar/factom-sidecar/internal/logging"
	"github.com/factom-sidecar/factom-sidecar/internal/server"
	"github.com/factom-sidecar/factom-sidecar/internal/version"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// A mode is one subcommand, and its configuration has the shape of every
// configuration here (config.Section, config.Loader): RegisterFlags, a
// Validate without I/O, then Load for the files its flags name (keys,
// passwords, certificates); an error of either exits 2. Setup builds
// everything and registers HTTP handlers; the HTTP server starts after
// Setup and before Run, so probes answer while Run waits (e.g. for the
// lease). Run returns when ctx is done and its own shutdown (closing
// writes, releasing the lease) has finished.
type mode interface {
	config.Loader
	Setup(rt *runtime) error
	Run(ctx context.Context) error
}

// env looks up an environment variable: os.LookupEnv in main, a map in
// tests. It is the only way any mode reads the environment.
type env = func(string) (string, bool)

// runtime is what main hands a mode.
type runtime struct {
	Log      zerolog.Logger
	Registry *prometheus.Registry
	Mux      *http.ServeMux
	// Addr is the bound --listen address.
	Addr string
}

var modes = map[string]struct {
	summary string
	new     func(env) mode
}{
	"factomd":      {"run next to factomd: readiness, liveness and startup from block-height lag", func(e env) mode { return &factomdMode{env: e} }},
	"walletd":      {"run next to factom-walletd: leader election, write-gating proxy, keystore replication", func(e env) mode { return &walletdMode{env: e} }},
	"walletd-init": {"init container: create walletd's wallet file from the replicated keystore (one-shot)", func(e env) mode { return &walletdInitMode{env: e} }},
	"injector":     {"mutating admission webhook: add the sidecar to pods annotated factom.io/inject", func(env) mode { return &injectorMode{} }},
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, os.LookupEnv))
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: sidecar <mode> [flags]")
	fmt.Fprintln(w, "\nmodes:")
	names := make([]string, 0, len(modes))
	for n := range modes {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-13s %s\n", n, modes[n].summary)
	}
	fmt.Fprintf(w, "  %-13s %s\n", "version", "print the version")
	fmt.Fprintln(w, "\nEvery flag can also be set with FACTOM_SIDECAR_<FLAG> (e.g. FACTOM_SIDECAR_MAX_LAG); `sidecar <mode> --help` lists them.")
}

func run(args []string, stdout, stderr io.Writer, lookup env) int {
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	name := args[0]
	switch name {
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, version.Version)
		return exitOK
	case "help", "-h", "--help", "-help":
		usage(stdout)
		return exitOK
	}
	entry, ok := modes[name]
	if !ok {
		fmt.Fprintf(stderr, "sidecar: unknown mode %q (want factomd, walletd, walletd-init, injector or version)\n", name)
		return exitUsage
	}
	m := entry.new(lookup)

	fs := flag.NewFlagSet("sidecar "+name, flag.ContinueOnError)
	listen := fs.String("listen", ":8099", "address for probes (/readyz, /livez, /startupz), /status and /metrics")
	logFormat := fs.String("log-format", "json", "log format: json or console")
	logLevel := fs.String("log-level", "info", "least severe log lines written: debug, info, warn or error")
	m.RegisterFlags(fs)
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printFlags(stdout, fs)
			return exitOK
		}
		fmt.Fprintf(stderr, "sidecar %s: %v (see --help)\n", name, err)
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "sidecar %s: unexpected argument %q (see --help)\n", name, fs.Arg(0))
		return exitUsage
	}
	if err := config.ApplyEnv(fs, lookup); err != nil {
		fmt.Fprintf(stderr, "sidecar %s: %s\n", name, oneLine(err))
		return exitUsage
	}
	if err := validateCommon(*listen, *logFormat, *logLevel); err != nil {
		fmt.Fprintf(stderr, "sidecar %s: %s\n", name, oneLine(err))
		return exitUsage
	}
	if err := m.Validate(); err != nil {
		fmt.Fprintf(stderr, "sidecar %s: %s\n", name, oneLine(err))
		return exitUsage
	}
	if err := m.Load(); err != nil {
		fmt.Fprintf(stderr, "sidecar %s: %s\n", name, oneLine(err))
		return exitUsage
	}

	log, err := logging.New(stderr, *logFormat, *logLevel, name)
	if err != nil {
		fmt.Fprintf(stderr, "sidecar %s: %v\n", name, err)
		return exitUsage
	}
	logging.RouteKlog(log)
	if err := serve(name, m, *listen, log); err != nil {
		log.Error().Str("event", logging.EventSidecarFailed).Err(err).Msg("sidecar stopped with an error")
		return exitFailure
	}
	return exitOK
}

func serve(name string, m mode, listen string, log zerolog.Logger) error {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		// factom_sidecar_build_info{version,revision,goversion,...,mode} 1
		versioncollector.NewCollector("factom_sidecar", versioncollector.WithExtraConstLabels(prometheus.Labels{"version": version.Version, "mode": name})))
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	// /healthz is the sidecar's own liveness: the process serves HTTP. The
	// verdicts about factomd and walletd are on /livez and /readyz.
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "ok\n")
	})

	l, err := server.Listen(listen)
	if err != nil {
		return err
	}
	rt := &runtime{Log: log, Registry: reg, Mux: mux, Addr: l.Addr().String()}
	if err := m.Setup(rt); err != nil {
		l.Close()
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	// The probe server outlives the mode's Run so probes keep answering
	// while the mode shuts down (closing writes, releasing the lease).
	srvCtx, stopSrv := context.WithCancel(context.Background())
	srvErr := make(chan error, 1)
	go func() { srvErr <- server.Serve(srvCtx, server.New(mux, 10*time.Second), l, 2*time.Second) }()
	log.Info().Str("event", logging.EventSidecarStarted).Str("version", versionString()).Str("listen", rt.Addr).Msg("sidecar started")

	runErr := m.Run(ctx)
	stopSrv()
	if err := <-srvErr; err != nil && runErr == nil {
		runErr = err
	}
	if runErr == nil {
		log.Info().Str("event", logging.EventSidecarStopped).Msg("sidecar stopped")
	}
	return runErr
}

func validateCommon(listen, logFormat, logLevel string) error {
	if !strings.Contains(listen, ":") {
		return config.Errorf("listen", "%q: want host:port or :port", listen)
	}
	if logFormat != "json" && logFormat != "console" {
		return config.Errorf("log-format", "%q: want json or console", logFormat)
	}
	if _, err := logging.ParseLevel(logLevel); err != nil {
		return config.Errorf("log-level", "%q: want debug, info, warn or error", logLevel)
	}
	return nil
}

// oneLine keeps a configuration error on one line even when several joined.
func oneLine(err error) string {
	return strings.ReplaceAll(err.Error(), "\n", "; ")
}

func printFlags(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintf(w, "usage: %s [flags]\n\nflags (each also read from FACTOM_SIDECAR_<FLAG>):\n", fs.Name())
	fs.VisitAll(func(f *flag.Flag) {
		def := f.DefValue
		if def == "" {
			def = `""`
		}
		fmt.Fprintf(w, "  --%s (env %s, default %s)\n      %s\n", f.Name, config.EnvName(f.Name), def, f.Usage)
	})
}

func versionString() string { return version.Version }
