package inject

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Names and paths the injected containers use (the components' too).
const (
	SidecarContainer = "sidecar"
	InitContainer    = "walletd-init"
	keyVolume        = "keystore-key"
	keyMountPath     = "/etc/factom-sidecar/keystore-key"
	sidecarPort      = 8099
	proxyPort        = 8189
)

// Image is the sidecar image the webhook injects.
type Image struct {
	Name       string
	PullPolicy corev1.PullPolicy
}

// Inject adds the sidecar to pod as s asks; it returns false, changing
// nothing, when the pod already has it (injection is idempotent).
func Inject(pod *corev1.Pod, s Settings, img Image) bool {
	spec := &pod.Spec
	for _, c := range append(spec.InitContainers, spec.Containers...) {
		if c.Name == SidecarContainer || c.Name == InitContainer {
			return false
		}
	}
	switch s.Mode {
	case ModeFactomd:
		main := &spec.Containers[0]
		main.StartupProbe = sidecarProbe("/startupz", intstr.FromInt32(sidecarPort), 10, 2, 4320)
		main.LivenessProbe = sidecarProbe("/livez", intstr.FromInt32(sidecarPort), 10, 2, 3)
		main.ReadinessProbe = sidecarProbe("/readyz", intstr.FromInt32(sidecarPort), 5, 2, 1)
		env := []corev1.EnvVar{fieldEnv("POD_NAME", "metadata.name"), fieldEnv("POD_NAMESPACE", "metadata.namespace"),
			fieldEnv("POD_IP", "status.podIP"), annotationEnv("FACTOM_SIDECAR_PEER_SERVICE", AnnotationPeerService),
			annotationEnv("FACTOM_SIDECAR_MAX_LAG", AnnotationMaxLag)}
		spec.Containers = append(spec.Containers, corev1.Container{
			Name: SidecarContainer, Image: img.Name, ImagePullPolicy: img.PullPolicy, Args: []string{"factomd"}, Env: env,
			Ports:         []corev1.ContainerPort{{Name: "sidecar", ContainerPort: sidecarPort}},
			LivenessProbe: &corev1.Probe{ProbeHandler: httpGet("/healthz", intstr.FromString("sidecar")), PeriodSeconds: 10, TimeoutSeconds: 2},
			Resources:     resources("10m", "32Mi", "64Mi"), SecurityContext: sidecarSecurity(true),
		})
	case ModeWalletd:
		walletEnv := []corev1.EnvVar{
			annotationEnv("FACTOM_SIDECAR_LEASE_NAME", AnnotationLeaseName),
			annotationEnv("FACTOM_SIDECAR_KEYSTORE_SECRET", AnnotationKeystoreSecret),
			{Name: "FACTOM_SIDECAR_KEYSTORE_KEY_FILE", Value: keyMountPath + "/key"},
			annotationEnv("FACTOM_SIDECAR_WALLET_PATH", AnnotationWalletPath),
		}
		podEnv := []corev1.EnvVar{fieldEnv("POD_NAME", "metadata.name"), fieldEnv("POD_NAMESPACE", "metadata.namespace")}
		keyMount := corev1.VolumeMount{Name: keyVolume, MountPath: keyMountPath, ReadOnly: true}
		// walletd-init sees walletd's volumes where walletd does, and goes
		// first: it creates the wallet file walletd opens.
		mounts := append(append([]corev1.VolumeMount{}, spec.Containers[0].VolumeMounts...), keyMount)
		initC := corev1.Container{
			Name: InitContainer, Image: img.Name, ImagePullPolicy: img.PullPolicy, Args: []string{"walletd-init"},
			Env:       append(append([]corev1.EnvVar{}, podEnv...), walletEnv...),
			Resources: resources("10m", "32Mi", "64Mi"), SecurityContext: sidecarSecurity(false), VolumeMounts: mounts,
		}
		spec.InitContainers = append([]corev1.Container{initC}, spec.InitContainers...)
		env := append([]corev1.EnvVar{annotationEnv("FACTOM_SIDECAR_FACTOMD_URL", AnnotationFactomdURL)}, podEnv...)
		spec.Containers = append(spec.Containers, corev1.Container{
			Name: SidecarContainer, Image: img.Name, ImagePullPolicy: img.PullPolicy, Args: []string{"walletd"},
			Env:            append(env, walletEnv...),
			Ports:          []corev1.ContainerPort{{Name: "proxy", ContainerPort: proxyPort}, {Name: "sidecar", ContainerPort: sidecarPort}},
			ReadinessProbe: sidecarProbe("/readyz", intstr.FromString("sidecar"), 2, 1, 1),
			LivenessProbe:  sidecarProbe("/livez", intstr.FromString("sidecar"), 10, 2, 3),
			StartupProbe:   sidecarProbe("/startupz", intstr.FromString("sidecar"), 2, 1, 150),
			Resources:      resources("20m", "32Mi", "128Mi"), SecurityContext: sidecarSecurity(true),
			VolumeMounts: []corev1.VolumeMount{keyMount},
		})
		mode := int32(0o400)
		spec.Volumes = append(spec.Volumes, corev1.Volume{Name: keyVolume, VolumeSource: corev1.VolumeSource{
			Secret: &corev1.SecretVolumeSource{SecretName: s.KeystoreKeySecret, DefaultMode: &mode}}})
	}
	return true
}

func sidecarProbe(path string, port intstr.IntOrString, period, timeout, failures int32) *corev1.Probe {
	return &corev1.Probe{ProbeHandler: httpGet(path, port), PeriodSeconds: period, TimeoutSeconds: timeout, FailureThreshold: failures}
}

func httpGet(path string, port intstr.IntOrString) corev1.ProbeHandler {
	return corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: path, Port: port}}
}

func fieldEnv(name, path string) corev1.EnvVar {
	return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: path}}}
}

func annotationEnv(name, annotation string) corev1.EnvVar {
	return fieldEnv(name, "metadata.annotations['"+annotation+"']")
}

func resources(cpu, memory, limit string) corev1.ResourceRequirements {
	return corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(memory)},
		Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse(limit)},
	}
}

// sidecarSecurity: the sidecar runs as its image's non-root user;
// walletd-init runs as the pod's user, so the wallet file is walletd's.
func sidecarSecurity(ownUser bool) *corev1.SecurityContext {
	sc := &corev1.SecurityContext{AllowPrivilegeEscalation: new(false), ReadOnlyRootFilesystem: new(true),
		Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}}
	if ownUser {
		sc.RunAsNonRoot, sc.RunAsUser, sc.RunAsGroup = new(true), new(int64(65532)), new(int64(65532))
	}
	return sc
}
