package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"net"
	"net/http"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/factom-sidecar/factom-sidecar/internal/config"
	"github.com/factom-sidecar/factom-sidecar/internal/inject"
	"github.com/factom-sidecar/factom-sidecar/internal/logging"
	"github.com/factom-sidecar/factom-sidecar/internal/probe"
	"github.com/factom-sidecar/factom-sidecar/internal/server"
)

// injectorMode is the mutating admission webhook: it adds the sidecar to
// pods annotated factom.io/inject. The webhook serves TLS on
// --webhook-listen; probes and metrics stay on --listen.
type injectorMode struct {
	webhookListen, certFile, keyFile string
	image, pullPolicy                string

	listener net.Listener
	srv      *http.Server
}

func (m *injectorMode) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&m.webhookListen, "webhook-listen", ":8443", "address of the webhook's HTTPS server (POST /mutate)")
	fs.StringVar(&m.certFile, "tls-cert-file", "", "the webhook's serving certificate (PEM; reloaded when it changes)")
	fs.StringVar(&m.keyFile, "tls-key-file", "", "the certificate's private key (PEM)")
	fs.StringVar(&m.image, "sidecar-image", "", "the sidecar image to inject (required)")
	fs.StringVar(&m.pullPolicy, "sidecar-image-pull-policy", "", "pull policy of the injected containers: Always, IfNotPresent, Never or empty (the Kubernetes default)")
}

func (m *injectorMode) Validate() error {
	var errs []error
	if m.image == "" {
		errs = append(errs, config.Errorf("sidecar-image", "required: the image the injected containers run"))
	}
	if m.certFile == "" || m.keyFile == "" {
		errs = append(errs, config.Errorf("tls-cert-file", "--tls-cert-file and --tls-key-file are required: the API server calls webhooks over TLS only"))
	}
	switch corev1.PullPolicy(m.pullPolicy) {
	case "", corev1.PullAlways, corev1.PullIfNotPresent, corev1.PullNever:
	default:
		errs = append(errs, config.Errorf("sidecar-image-pull-policy", "%q: want Always, IfNotPresent, Never or empty", m.pullPolicy))
	}
	if !strings.Contains(m.webhookListen, ":") {
		errs = append(errs, config.Errorf("webhook-listen", "%q: want host:port or :port", m.webhookListen))
	}
	return errors.Join(errs...)
}

// Load has nothing to read: the certificate is loaded (and re-read) by
// Setup.
func (m *injectorMode) Load() error { return nil }

func (m *injectorMode) Setup(rt *runtime) error {
	certs, err := inject.NewCertReloader(m.certFile, m.keyFile)
	if err != nil {
		return err
	}
	l, err := server.Listen(m.webhookListen)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("POST /mutate", &inject.Webhook{Image: inject.Image{Name: m.image, PullPolicy: corev1.PullPolicy(m.pullPolicy)}, Log: rt.Log})
	m.srv = server.New(mux, 10*time.Second)
	m.srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: certs.GetCertificate}
	m.listener = tls.NewListener(l, m.srv.TLSConfig)
	ready := probe.Named{Name: "webhook", Check: func() probe.Result { return probe.Result{OK: true, Reason: "serving"} }}
	rt.Mux.Handle("GET /readyz", probe.Handler("ready", ready))
	rt.Mux.Handle("GET /livez", probe.Handler("live", ready))
	rt.Log.Info().Str("event", logging.EventInjectorListening).Str("webhookListen", l.Addr().String()).Msg("webhook serving TLS")
	return nil
}

func (m *injectorMode) Run(ctx context.Context) error {
	return server.Serve(ctx, m.srv, m.listener, 5*time.Second)
}
