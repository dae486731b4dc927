package inject

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/factom-sidecar/factom-sidecar/internal/logging"
	"github.com/rs/zerolog"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// maxReview bounds an AdmissionReview body (a pod with large env is well
// under it; the API server itself caps requests at 3 MiB).
const maxReview = 3 << 20

// Webhook is the mutating admission webhook's handler (POST /mutate).
type Webhook struct {
	Image Image
	Log   zerolog.Logger
}

type patchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value,omitempty"`
}

func (h *Webhook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		http.Error(w, fmt.Sprintf("content type %q: want application/json", ct), http.StatusUnsupportedMediaType)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxReview+1))
	if err != nil || len(body) > maxReview {
		http.Error(w, "request body unreadable or over 3 MiB", http.StatusRequestEntityTooLarge)
		return
	}
	var review admissionv1.AdmissionReview
	if err := json.Unmarshal(body, &review); err != nil || review.Request == nil {
		http.Error(w, "want an admission.k8s.io/v1 AdmissionReview with a request", http.StatusBadRequest)
		return
	}
	resp := h.Review(review.Request)
	resp.UID = review.Request.UID
	review.Response, review.Request = resp, nil
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(review)
}

// Review answers one admission request: allowed unchanged, allowed with
// a JSON patch that injects the sidecar, or refused with the reason.
func (h *Webhook) Review(req *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse {
	allow := &admissionv1.AdmissionResponse{Allowed: true}
	if req.Kind.Kind != "Pod" || req.Operation != admissionv1.Create {
		return allow
	}
	var pod corev1.Pod
	if err := json.Unmarshal(req.Object.Raw, &pod); err != nil {
		return refuse(fmt.Sprintf("factom-sidecar injector: the object is not a Pod: %v", err))
	}
	log := h.Log.With().Str("namespace", req.Namespace).Str("pod", podName(&pod)).Logger()
	s, asked, err := ParseSettings(&pod)
	if !asked {
		return allow
	}
	if err != nil {
		log.Warn().Str("event", logging.EventInjectionRefused).Str("reason", err.Error()).Msg("pod refused")
		return refuse("factom-sidecar injector: " + err.Error())
	}
	before := pod.Spec.DeepCopy()
	if !Inject(&pod, s, h.Image) {
		log.Debug().Str("event", logging.EventInjectionSkipped).Msg("pod already has the sidecar")
		return allow
	}
	// "add" replaces a member that exists: whole lists, so the patch does
	// not depend on how many entries the pod had.
	ops := []patchOp{{Op: "add", Path: "/spec/containers", Value: pod.Spec.Containers}}
	if len(pod.Spec.InitContainers) != len(before.InitContainers) {
		ops = append(ops, patchOp{Op: "add", Path: "/spec/initContainers", Value: pod.Spec.InitContainers})
	}
	if len(pod.Spec.Volumes) != len(before.Volumes) {
		ops = append(ops, patchOp{Op: "add", Path: "/spec/volumes", Value: pod.Spec.Volumes})
	}
	patch, err := json.Marshal(ops)
	if err != nil {
		return refuse(fmt.Sprintf("factom-sidecar injector: %v", err))
	}
	log.Info().Str("event", logging.EventSidecarInjected).Str("mode", s.Mode).Msg("sidecar injected")
	pt := admissionv1.PatchTypeJSONPatch
	return &admissionv1.AdmissionResponse{Allowed: true, Patch: patch, PatchType: &pt}
}

func refuse(msg string) *admissionv1.AdmissionResponse {
	return &admissionv1.AdmissionResponse{Result: &metav1.Status{Status: metav1.StatusFailure, Message: msg, Reason: metav1.StatusReasonBadRequest, Code: http.StatusBadRequest}}
}

// podName is the pod's name, or its generateName prefix (pods of a
// StatefulSet have a name; a ReplicaSet's only the prefix at admission).
func podName(p *corev1.Pod) string {
	if p.Name != "" {
		return p.Name
	}
	return p.GenerateName
}
