package testenv

import "testing"

func TestSecretsFoundReportsLengthsOfContainedSecrets(t *testing.T) {
	var s Secrets
	s.Add("Fs1secret", "", "idsec2")
	if got := s.Found("log line with Fs1secret in it"); len(got) != 1 || got[0] != len("Fs1secret") {
		t.Fatalf("Found = %v, want one secret of %d chars", got, len("Fs1secret"))
	}
	if got := s.Found("nothing here"); len(got) != 0 {
		t.Fatalf("Found = %v on clean text", got)
	}
}
