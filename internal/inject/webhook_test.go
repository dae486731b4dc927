package inject

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rs/zerolog"
	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

func review(t testing.TB, podJSON string) []byte {
	body, err := json.Marshal(admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{UID: "u1", Kind: metav1.GroupVersionKind{Version: "v1", Kind: "Pod"},
			Operation: admissionv1.Create, Namespace: "ns", Object: runtime.RawExtension{Raw: []byte(podJSON)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return body
}

func post(h http.Handler, contentType string, body []byte) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, "/mutate", bytes.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	h.ServeHTTP(rec, req)
	return rec
}

func TestWebhookAnswersReviewsAndRefusesGarbage(t *testing.T) {
	h := &Webhook{Image: Image{Name: "sidecar:1"}, Log: zerolog.Nop()}
	pod := `{"metadata":{"name":"p","annotations":{"factom.io/inject":"factomd","factom.io/peer-service":"s","factom.io/max-lag":"2"}},"spec":{"containers":[{"name":"factomd","image":"f"}]}}`
	rec := post(h, "application/json", review(t, pod))
	var out admissionv1.AdmissionReview
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || out.Response == nil {
		t.Fatalf("answer %q: %v", rec.Body.String(), err)
	}
	if out.Response.UID != "u1" || !out.Response.Allowed || out.Response.PatchType == nil || !strings.Contains(string(out.Response.Patch), `"name":"sidecar"`) {
		t.Fatalf("response %+v, want the request's UID, allowed, a JSON patch adding the sidecar", out.Response)
	}
	missing := `{"metadata":{"name":"p","annotations":{"factom.io/inject":"factomd"}},"spec":{"containers":[{"name":"factomd"}]}}`
	json.Unmarshal(post(h, "application/json", review(t, missing)).Body.Bytes(), &out)
	if out.Response.Allowed || !strings.Contains(out.Response.Result.Message, "factom.io/peer-service") {
		t.Fatalf("a pod with missing settings: %+v", out.Response)
	}
	for name, tc := range map[string]struct {
		ct   string
		body []byte
		code int
	}{
		"form content type": {"application/x-www-form-urlencoded", review(t, pod), http.StatusUnsupportedMediaType},
		"not JSON":          {"application/json", []byte("{"), http.StatusBadRequest},
		"no request":        {"application/json", []byte(`{"kind":"AdmissionReview"}`), http.StatusBadRequest},
	} {
		if rec := post(h, tc.ct, tc.body); rec.Code != tc.code {
			t.Errorf("%s: HTTP %d, want %d", name, rec.Code, tc.code)
		}
	}
}

// Whatever the body, the handler answers without panicking: a review it
// can read gets a response for its UID, anything else a 4xx.
func FuzzWebhook(f *testing.F) {
	f.Add(review(f, `{"metadata":{"annotations":{"factom.io/inject":"walletd"}},"spec":{"containers":[{"name":"w"}]}}`))
	f.Add(review(f, `{"metadata":{"annotations":{"factom.io/inject":"factomd","factom.io/peer-service":"s","factom.io/max-lag":"1"}},"spec":{}}`))
	f.Add(review(f, `"not a pod"`))
	f.Add([]byte(`{"request":{"uid":"x","kind":{"kind":"Pod"},"operation":"CREATE","object":null}}`))
	h := &Webhook{Image: Image{Name: "sidecar:1"}, Log: zerolog.Nop()}
	f.Fuzz(func(t *testing.T, body []byte) {
		rec := post(h, "application/json", body)
		if rec.Code == http.StatusOK {
			var out admissionv1.AdmissionReview
			if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || out.Response == nil {
				t.Fatalf("HTTP 200 without a review response: %q", rec.Body.String())
			}
		} else if rec.Code < 400 || rec.Code >= 500 {
			t.Fatalf("HTTP %d", rec.Code)
		}
	})
}
