package inject

import (
	"crypto/tls"
	"fmt"
	"os"
	"sync"
	"time"
)

// CertReloader serves the certificate in certFile/keyFile and loads it
// again when either file changes (cert-manager renews it in place;
// a mounted Secret is swapped atomically by the kubelet).
type CertReloader struct {
	certFile, keyFile string

	mu      sync.Mutex
	cert    *tls.Certificate
	modTime time.Time
}

// NewCertReloader loads the pair once, so a bad one fails at start.
func NewCertReloader(certFile, keyFile string) (*CertReloader, error) {
	r := &CertReloader{certFile: certFile, keyFile: keyFile}
	if _, err := r.GetCertificate(nil); err != nil {
		return nil, err
	}
	return r, nil
}

// GetCertificate is tls.Config.GetCertificate. A pair that fails to load
// after a change keeps the previous one in service.
func (r *CertReloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	latest, err := r.latestModTime()
	r.mu.Lock()
	defer r.mu.Unlock()
	if err == nil && r.cert != nil && latest.Equal(r.modTime) {
		return r.cert, nil
	}
	cert, loadErr := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	switch {
	case loadErr == nil:
		r.cert, r.modTime = &cert, latest
	case r.cert == nil:
		return nil, fmt.Errorf("webhook certificate: %w", loadErr)
	}
	return r.cert, nil
}

func (r *CertReloader) latestModTime() (time.Time, error) {
	var latest time.Time
	for _, f := range []string{r.certFile, r.keyFile} {
		st, err := os.Stat(f)
		if err != nil {
			return time.Time{}, fmt.Errorf("webhook certificate: %w", err)
		}
		if st.ModTime().After(latest) {
			latest = st.ModTime()
		}
	}
	return latest, nil
}
