package node

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/factom-sidecar/factom-sidecar/test/testenv"
)

// containerdConfig keeps every path of containerd under the run directory
// and names the settings this machine kind needs (docs: REAL-NODE notes in
// the README): root may not lower oom_score_adj here, and the hugetlb
// controller is absent.
const containerdConfig = `version = 2
root = "{{RUN}}/containerd/root"
state = "{{RUN}}/containerd/state"
[grpc]
  address = "{{RUN}}/containerd/containerd.sock"
[ttrpc]
  address = ""
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "{{RUN}}/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{{PAUSE}}"
  disable_tcp_service = true
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  tolerate_missing_hugetlb_controller = true
  disable_hugetlb_controller = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "{{RUN}}/cni/net.d"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "{{RUN}}/containerd/runc"
`

// cniConfig is a bridge network with host-local addresses and port
// mappings; the bridge's name is the node's own so tear-down removes
// exactly it.
const cniConfig = `{
  "cniVersion": "1.0.0",
  "name": "factom-test",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "{{BRIDGE}}",
      "isGateway": true,
      "ipMasq": true,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "{{RUN}}/cni/ipam",
        "ranges": [[{"subnet": "{{PODCIDR}}", "gateway": "{{PODGW}}"}]],
        "routes": [{"dst": "0.0.0.0/0"}]
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
`

func (n *Node) startContainerd() error {
	bin, err := exec.LookPath("containerd")
	if err != nil {
		return fmt.Errorf("containerd: %w (apt-get install containerd runc containernetworking-plugins)", err)
	}
	r := strings.NewReplacer("{{RUN}}", n.dir, "{{PAUSE}}", PauseImage, "{{BRIDGE}}", n.bridge,
		"{{PODCIDR}}", PodCIDR, "{{PODGW}}", podGateway)
	if err := os.MkdirAll(filepath.Join(n.dir, "cni", "net.d"), 0o755); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(n.dir, "containerd"), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(n.dir, "cni", "net.d", "10-factom-test.conflist"), []byte(r.Replace(cniConfig)), 0o644); err != nil {
		return err
	}
	cfg := filepath.Join(n.dir, "containerd", "config.toml")
	if err := os.WriteFile(cfg, []byte(r.Replace(containerdConfig)), 0o644); err != nil {
		return err
	}
	p, err := testenv.Start("containerd", bin, []string{"--config", cfg, "--log-level", "warn"}, nil, filepath.Join(n.dir, "containerd.log"))
	if err != nil {
		return err
	}
	n.procs = append(n.procs, p)
	return testenv.Eventually(30*time.Second, 100*time.Millisecond, func() (bool, error) {
		if p.Exited() {
			return false, fmt.Errorf("containerd exited: %s", lastLines(p.Logs(), 20))
		}
		_, err := n.ctr("version")
		return err == nil, err
	})
}

// ctr runs containerd's client against this node's containerd, in the
// namespace the kubelet's CRI uses.
func (n *Node) ctr(args ...string) (string, error) {
	full := append([]string{"--address", n.containerdSock(), "--namespace", "k8s.io"}, args...)
	out, err := exec.Command("ctr", full...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("ctr %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

func (n *Node) containerdSock() string { return filepath.Join(n.dir, "containerd", "containerd.sock") }

// ImportImages loads image tarballs into the node's containerd.
func (n *Node) ImportImages(paths ...string) error {
	for _, p := range paths {
		if _, err := n.ctr("images", "import", p); err != nil {
			return err
		}
	}
	return nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
