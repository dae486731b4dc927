package main

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/factom-sidecar/factom-sidecar/internal/testenv"
)

// dockerfileBuild extracts the `go build` command of the Dockerfile's build
// stage, joining continuation lines, so the test runs exactly what the image
// build runs.
func dockerfileBuild(t *testing.T, dockerfile string) (env []string, args []string) {
	t.Helper()
	data, err := os.ReadFile(dockerfile)
	if err != nil {
		t.Fatal(err)
	}
	joined := strings.ReplaceAll(string(data), "\\\n", " ")
	var run string
	for _, line := range strings.Split(joined, "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "RUN ") && strings.Contains(line, "go build") {
			run = strings.TrimPrefix(line, "RUN ")
		}
	}
	if run == "" {
		t.Fatal("Dockerfile has no RUN ... go build line")
	}
	fields := regexp.MustCompile(`"[^"]*"|\S+`).FindAllString(run, -1)
	for i, f := range fields {
		if f == "go" {
			env = fields[:i]
			args = fields[i+1:]
			break
		}
	}
	for i, a := range args {
		args[i] = strings.Trim(strings.ReplaceAll(a, "${VERSION}", "test"), `"`)
	}
	return env, args
}

func TestDockerfileBuildIsStatic(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary; run without -short")
	}
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	env, args := dockerfileBuild(t, filepath.Join(root, "Dockerfile"))
	if len(env) == 0 || env[0] != "CGO_ENABLED=0" {
		t.Fatalf("the Dockerfile's build must set CGO_ENABLED=0, got env %q", env)
	}
	out := filepath.Join(t.TempDir(), "sidecar")
	for i, a := range args {
		if a == "/out/sidecar" {
			args[i] = out
		}
	}
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), env...)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, msg)
	}

	f, err := elf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Fatal("binary has a dynamic loader (PT_INTERP): not static")
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Fatalf("binary links shared libraries %v: not static", libs)
	}

	version, err := exec.Command(out, "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(version)); got != "test" {
		t.Fatalf("version stamped by -ldflags = %q, want %q", got, "test")
	}
}
