package inject

import (
	"fmt"
	"net/url"
	"path"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Pod annotations. The injected containers read the settings from them
// through the downward API, as the kustomize components do; the webhook
// checks them first, so a pod with a missing or bad one is refused with
// the reason instead of crash-looping.
const (
	AnnotationInject            = "factom.io/inject"
	AnnotationPeerService       = "factom.io/peer-service"
	AnnotationMaxLag            = "factom.io/max-lag"
	AnnotationLeaseName         = "factom.io/lease-name"
	AnnotationKeystoreSecret    = "factom.io/keystore-secret"
	AnnotationKeystoreKeySecret = "factom.io/keystore-key-secret"
	AnnotationFactomdURL        = "factom.io/factomd-url"
	AnnotationWalletPath        = "factom.io/wallet-path"
)

// Modes of factom.io/inject.
const (
	ModeFactomd = "factomd"
	ModeWalletd = "walletd"
)

// DefaultKeystoreKeySecret is the key Secret when the pod names none (the
// components' fixed name).
const DefaultKeystoreKeySecret = "factom-wallet-keystore-key"

// Settings are what a pod's annotations ask for.
type Settings struct {
	Mode string
	// KeystoreKeySecret is the key Secret's name: a volume source cannot
	// read an annotation, so the webhook writes it (the components use the
	// default, which an overlay patches).
	KeystoreKeySecret string
}

// ParseSettings reads and checks the annotations of pod; ok is false when
// the pod does not ask for injection.
func ParseSettings(pod *corev1.Pod) (s Settings, ok bool, err error) {
	a := pod.Annotations
	mode, ok := a[AnnotationInject]
	if !ok {
		return Settings{}, false, nil
	}
	s = Settings{Mode: mode, KeystoreKeySecret: DefaultKeystoreKeySecret}
	var required []string
	switch mode {
	case ModeFactomd:
		required = []string{AnnotationPeerService, AnnotationMaxLag}
		if v, set := a[AnnotationMaxLag]; set && strings.TrimSpace(v) != "" {
			if n, err := strconv.ParseUint(v, 10, 32); err != nil || n > 1<<20 {
				return s, true, fmt.Errorf("annotation %s=%q: want a number of blocks", AnnotationMaxLag, v)
			}
		}
	case ModeWalletd:
		required = []string{AnnotationLeaseName, AnnotationKeystoreSecret, AnnotationFactomdURL, AnnotationWalletPath}
		if v, set := a[AnnotationKeystoreKeySecret]; set {
			if v == "" {
				return s, true, fmt.Errorf("annotation %s is empty: name the Secret holding the keystore key, or leave it out for %s", AnnotationKeystoreKeySecret, DefaultKeystoreKeySecret)
			}
			s.KeystoreKeySecret = v
		}
	default:
		return s, true, fmt.Errorf("annotation %s=%q: want %s or %s", AnnotationInject, mode, ModeFactomd, ModeWalletd)
	}
	var missing []string
	for _, k := range required {
		if strings.TrimSpace(a[k]) == "" {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return s, true, fmt.Errorf("%s=%s needs the annotation(s) %s", AnnotationInject, mode, strings.Join(missing, ", "))
	}
	if len(pod.Spec.Containers) == 0 {
		return s, true, fmt.Errorf("the pod has no container to put the sidecar beside")
	}
	if mode == ModeWalletd {
		if u, err := url.Parse(a[AnnotationFactomdURL]); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return s, true, fmt.Errorf("annotation %s=%q: want http://host:port", AnnotationFactomdURL, a[AnnotationFactomdURL])
		}
		if err := onAVolume(pod.Spec.Containers[0], a[AnnotationWalletPath]); err != nil {
			return s, true, err
		}
	}
	return s, true, nil
}

// onAVolume checks that walletd's wallet file is on a volume walletd
// mounts: walletd-init gets the same mounts and must write the file there.
func onAVolume(walletd corev1.Container, file string) error {
	if !path.IsAbs(file) {
		return fmt.Errorf("annotation %s=%q: want an absolute path, as container %s sees it", AnnotationWalletPath, file, walletd.Name)
	}
	for _, m := range walletd.VolumeMounts {
		if strings.HasPrefix(path.Clean(file), strings.TrimSuffix(path.Clean(m.MountPath), "/")+"/") {
			return nil
		}
	}
	return fmt.Errorf("annotation %s=%q is on no volume container %s (the first container) mounts: walletd-init could not create the wallet there", AnnotationWalletPath, file, walletd.Name)
}
