package node

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// The images the node runs. No registry is reachable, so each is built
// here from static binaries and imported into containerd; the tests' overlay
// points the shipped manifests at these names with imagePullPolicy Never.
const (
	SidecarImage = "localhost/factom-sidecar:test"
	FactomdImage = "localhost/factomd:v6.12.0"
	WalletdImage = "localhost/factom-walletd:v2.4.2"
	PauseImage   = "localhost/factom-sidecar-test/pause:1"
	CoreDNSImage = "localhost/factom-sidecar-test/coredns:v1.15.0"
)

// NonRoot is the user of the distroless "nonroot" base the Dockerfile
// uses: 65532, home /home/nonroot.
const NonRoot = 65532

// ImageFile is one entry of an image's single layer.
type ImageFile struct {
	Path string // absolute path inside the image
	Mode int64  // permission bits (and sticky bit)
	Dir  bool
	UID  int
	GID  int
	// Source is a file on the host to copy; Data is used when it is empty.
	Source string
	Data   []byte
}

// ImageSpec describes an image of one layer.
type ImageSpec struct {
	Ref        string
	Files      []ImageFile
	Entrypoint []string
	Cmd        []string
	User       string
	Env        []string
	WorkingDir string
}

// distrolessBase is what gcr.io/distroless/static-debian12:nonroot holds
// that the programs here use: the users, a world-writable /tmp and the
// nonroot user's home.
func distrolessBase() []ImageFile {
	passwd := "root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"
	group := "root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n"
	return []ImageFile{
		{Path: "/etc", Dir: true, Mode: 0o755},
		{Path: "/etc/passwd", Mode: 0o644, Data: []byte(passwd)},
		{Path: "/etc/group", Mode: 0o644, Data: []byte(group)},
		{Path: "/tmp", Dir: true, Mode: 0o1777},
		{Path: "/home", Dir: true, Mode: 0o755},
		{Path: "/home/nonroot", Dir: true, Mode: 0o700, UID: NonRoot, GID: NonRoot},
		{Path: "/root", Dir: true, Mode: 0o700},
	}
}

// WriteImage builds spec and writes it as an image tarball containerd's
// `ctr images import` reads.
func WriteImage(spec ImageSpec, tarPath string) error {
	layerTar, err := layerTar(spec.Files)
	if err != nil {
		return fmt.Errorf("image %s: %w", spec.Ref, err)
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	})
	if err != nil {
		return fmt.Errorf("image %s: layer: %w", spec.Ref, err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return fmt.Errorf("image %s: %w", spec.Ref, err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return fmt.Errorf("image %s: config: %w", spec.Ref, err)
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture = "linux", "amd64"
	cfg.Created = v1.Time{Time: time.Unix(0, 0).UTC()}
	cfg.Config.Entrypoint = spec.Entrypoint
	cfg.Config.Cmd = spec.Cmd
	cfg.Config.User = spec.User
	cfg.Config.WorkingDir = spec.WorkingDir
	cfg.Config.Env = append([]string{"PATH=/usr/local/bin:/usr/bin:/bin"}, spec.Env...)
	img, err = mutate.ConfigFile(img, cfg)
	if err != nil {
		return fmt.Errorf("image %s: config: %w", spec.Ref, err)
	}
	tag, err := name.NewTag(spec.Ref)
	if err != nil {
		return fmt.Errorf("image %s: %w", spec.Ref, err)
	}
	if err := tarball.WriteToFile(tarPath, tag, img); err != nil {
		return fmt.Errorf("image %s: write: %w", spec.Ref, err)
	}
	return nil
}

// layerTar writes files as one tar stream, parents before children, with a
// fixed time so the same inputs give the same layer digest.
func layerTar(files []ImageFile) ([]byte, error) {
	sorted := append([]ImageFile(nil), files...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Path < sorted[j].Path })
	var buf bytes.Buffer
	w := tar.NewWriter(&buf)
	epoch := time.Unix(0, 0)
	for _, f := range sorted {
		if !path.IsAbs(f.Path) || path.Clean(f.Path) != f.Path {
			return nil, fmt.Errorf("image file %q: want a clean absolute path", f.Path)
		}
		hdr := &tar.Header{Name: f.Path[1:], Mode: f.Mode, Uid: f.UID, Gid: f.GID, ModTime: epoch, Format: tar.FormatPAX}
		if f.Dir {
			hdr.Typeflag, hdr.Name = tar.TypeDir, hdr.Name+"/"
			if err := w.WriteHeader(hdr); err != nil {
				return nil, err
			}
			continue
		}
		data := f.Data
		if f.Source != "" {
			var err error
			if data, err = os.ReadFile(f.Source); err != nil {
				return nil, fmt.Errorf("image file %s: %w", f.Path, err)
			}
		}
		hdr.Typeflag, hdr.Size = tar.TypeReg, int64(len(data))
		if err := w.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := w.Write(data); err != nil {
			return nil, err
		}
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
