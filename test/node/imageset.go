package node

import (
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"

	"github.com/factom-sidecar/factom-sidecar/test/testenv"
)

// BusyboxPath is Debian's static busybox (package busybox-static). The
// factomd image carries it as /bin/sh because the upstream factomd image is
// Alpine-based and the local overlay starts factomd from a shell.
const BusyboxPath = "/bin/busybox"

// BuildImages writes every image tarball the node needs into dir and
// returns their paths. The sidecar is built with the Dockerfile's own build
// command; factomd, walletd and CoreDNS come from bin/ (static builds), and
// the pause program is built here.
func BuildImages(dir string) ([]string, error) {
	root, err := testenv.RepoRoot()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("images: %w", err)
	}
	sidecar := filepath.Join(dir, "sidecar")
	if err := BuildLikeDockerfile(root, filepath.Join(root, "Dockerfile"), sidecar, "test"); err != nil {
		return nil, fmt.Errorf("sidecar image: %w", err)
	}
	pause := filepath.Join(dir, "pause")
	cmd := exec.Command("go", "build", "-trimpath", "-o", pause, "./test/node/pause")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("pause image: %w\n%s", err, msg)
	}
	bins := map[string]string{}
	for _, b := range []string{"factomd", "test-walletd", "coredns"} {
		p, err := testenv.Binary(b)
		if err != nil {
			return nil, err
		}
		bins[b] = p
	}
	for _, p := range []string{sidecar, pause, bins["factomd"], bins["test-walletd"], bins["coredns"], BusyboxPath} {
		if err := requireStatic(p); err != nil {
			return nil, err
		}
	}
	sidecarSpec, err := SidecarImageSpec(filepath.Join(root, "Dockerfile"), sidecar)
	if err != nil {
		return nil, err
	}
	specs := []ImageSpec{
		sidecarSpec,
		{
			// The upstream factomd image's layout: /go/bin/factomd as the
			// entrypoint, a shell for scripted starts.
			Ref: FactomdImage,
			Files: append(distrolessBase(),
				ImageFile{Path: "/bin", Dir: true, Mode: 0o755},
				ImageFile{Path: "/bin/sh", Mode: 0o755, Source: BusyboxPath},
				ImageFile{Path: "/go", Dir: true, Mode: 0o755},
				ImageFile{Path: "/go/bin", Dir: true, Mode: 0o755},
				ImageFile{Path: "/go/bin/factomd", Mode: 0o755, Source: bins["factomd"]}),
			Entrypoint: []string{"/go/bin/factomd"},
			Env:        []string{"PATH=/go/bin:/usr/local/bin:/usr/bin:/bin"},
		},
		{
			// The upstream factom-walletd image's layout.
			Ref: WalletdImage,
			Files: append(distrolessBase(),
				ImageFile{Path: "/go", Dir: true, Mode: 0o755},
				ImageFile{Path: "/go/bin", Dir: true, Mode: 0o755},
				ImageFile{Path: "/go/bin/factom-walletd", Mode: 0o755, Source: bins["test-walletd"]}),
			Entrypoint: []string{"/go/bin/factom-walletd"},
		},
		{Ref: PauseImage, Files: []ImageFile{{Path: "/pause", Mode: 0o755, Source: pause}}, Entrypoint: []string{"/pause"}},
		{
			Ref:        CoreDNSImage,
			Files:      append(distrolessBase(), ImageFile{Path: "/coredns", Mode: 0o755, Source: bins["coredns"]}),
			Entrypoint: []string{"/coredns"},
		},
	}
	var out []string
	for i, s := range specs {
		p := filepath.Join(dir, "image-"+strconv.Itoa(i)+".tar")
		if err := WriteImage(s, p); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// SidecarImageSpec is the Dockerfile's final stage rebuilt without an
// engine: the files of its distroless nonroot base, the binary at the path
// the stage copies it to, and the stage's entrypoint and user.
func SidecarImageSpec(dockerfile, binary string) (ImageSpec, error) {
	stage, err := ReadDockerfileFinalStage(dockerfile)
	if err != nil {
		return ImageSpec{}, err
	}
	if stage.From != DistrolessBase {
		return ImageSpec{}, fmt.Errorf("dockerfile %s: final stage is FROM %s; the test image mirrors %s", dockerfile, stage.From, DistrolessBase)
	}
	if len(stage.Copies) != 1 {
		return ImageSpec{}, fmt.Errorf("dockerfile %s: final stage copies %v; the test image holds one binary", dockerfile, stage.Copies)
	}
	return ImageSpec{
		Ref:        SidecarImage,
		Files:      append(distrolessBase(), ImageFile{Path: stage.Copies[0], Mode: 0o755, Source: binary}),
		Entrypoint: stage.Entrypoint,
		User:       stage.User,
	}, nil
}

// DistrolessBase is the base image distrolessBase mirrors.
const DistrolessBase = "gcr.io/distroless/static-debian12:nonroot"

// requireStatic refuses a dynamically linked program: the images hold no C
// library.
func requireStatic(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("image binary %s: %w", path, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("image binary %s is dynamically linked; build it with CGO_ENABLED=0 (make tools)", path)
		}
	}
	return nil
}
