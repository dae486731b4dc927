package node

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/factom-sidecar/factom-sidecar/test/testenv"
)

var plugin struct {
	once sync.Once
	dir  string
	err  error
}

// KubectlFactom runs `kubectl factom ARGS` as an operator does: kubectl
// finds the kubectl-factom plugin, built from this tree, on the PATH. It
// authenticates with kubeconfig (OperatorKubeconfig), or as the admin
// when that is empty.
// It returns standard output and standard error apart (the plugin prints
// progress on standard error). kubectl hands a plugin only the flags
// after its name, so the kubeconfig follows "factom".
func (n *Node) KubectlFactom(ctx context.Context, kubeconfig string, args ...string) (stdout, stderr string, err error) {
	if kubeconfig == "" {
		kubeconfig = n.kubeconfig
	}
	plugin.once.Do(func() {
		plugin.dir = filepath.Join(n.dir, "plugins")
		if plugin.err = os.MkdirAll(plugin.dir, 0o755); plugin.err == nil {
			_, plugin.err = testenv.BuildCommand(plugin.dir, "kubectl-factom")
		}
	})
	if plugin.err != nil {
		return "", "", plugin.err
	}
	kubectl, err := testenv.Binary("kubectl")
	if err != nil {
		return "", "", err
	}
	cmd := exec.CommandContext(ctx, kubectl, append([]string{"factom", "--kubeconfig", kubeconfig}, args...)...)
	cmd.Env = append(os.Environ(), "PATH="+plugin.dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return out.String(), errOut.String(), fmt.Errorf("kubectl factom %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(errOut.String()))
	}
	return out.String(), errOut.String(), nil
}

// OperatorKubeconfig writes a kubeconfig for a new service account of ns
// bound to the Role role (the shipped factom-operator Role), so the
// plugin runs with an operator's rights only.
func (n *Node) OperatorKubeconfig(ctx context.Context, ns, role string) (string, error) {
	path := filepath.Join(n.dir, "operator-"+ns+".kubeconfig")
	if _, err := n.Kube.RoleKubeconfig(ctx, path, ns, "kubectl-factom-test", role, 2*time.Hour); err != nil {
		return "", err
	}
	return path, nil
}
