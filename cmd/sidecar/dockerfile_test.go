package main

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/factom-sidecar/factom-sidecar/test/node"
	"github.com/factom-sidecar/factom-sidecar/test/testenv"
)

func TestDockerfileBuildIsStatic(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary; run without -short")
	}
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	env, _, err := node.DockerfileBuild(filepath.Join(root, "Dockerfile"), "test")
	if err != nil {
		t.Fatal(err)
	}
	if len(env) == 0 || env[0] != "CGO_ENABLED=0" {
		t.Fatalf("the Dockerfile's build must set CGO_ENABLED=0, got env %q", env)
	}
	out := filepath.Join(t.TempDir(), "sidecar")
	if err := node.BuildLikeDockerfile(root, filepath.Join(root, "Dockerfile"), out, "test"); err != nil {
		t.Fatal(err)
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

// The image the real-node tests run is the Dockerfile's, rebuilt without an
// engine: the binary from the Dockerfile's own build command at the path its
// final stage copies to, with the stage's entrypoint and user.
func TestTestImageMatchesTheDockerfile(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary; run without -short")
	}
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	dockerfile := filepath.Join(root, "Dockerfile")
	bin := filepath.Join(t.TempDir(), "sidecar")
	if err := node.BuildLikeDockerfile(root, dockerfile, bin, "test"); err != nil {
		t.Fatal(err)
	}
	spec, err := node.SidecarImageSpec(dockerfile, bin)
	if err != nil {
		t.Fatal(err)
	}
	tarPath := filepath.Join(t.TempDir(), "image.tar")
	if err := node.WriteImage(spec, tarPath); err != nil {
		t.Fatal(err)
	}
	img, err := tarball.ImageFromPath(tarPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	stage, err := node.ReadDockerfileFinalStage(dockerfile)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(cfg.Config.Entrypoint, " ") != strings.Join(stage.Entrypoint, " ") || cfg.Config.User != stage.User {
		t.Fatalf("image entrypoint %q user %q, Dockerfile %q user %q", cfg.Config.Entrypoint, cfg.Config.User, stage.Entrypoint, stage.User)
	}
	want, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("layers: %d, %v", len(layers), err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	found := false
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if "/"+hdr.Name == stage.Copies[0] {
			got, _ := io.ReadAll(tr)
			found = bytes.Equal(got, want) && hdr.Mode&0o111 != 0
		}
	}
	if !found {
		t.Fatalf("the image has no executable %s equal to the Dockerfile build's binary", stage.Copies[0])
	}
}
