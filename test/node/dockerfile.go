package node

import (
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
)

// DockerfileBuild is the `go build` command of the Dockerfile's build
// stage, continuation lines joined, with ${VERSION} replaced by version:
// the environment assignments before `go` and the arguments after it. The
// test image is built with exactly this command, so it holds the binary a
// `docker build` would.
func DockerfileBuild(dockerfile, version string) (env, args []string, err error) {
	data, err := os.ReadFile(dockerfile)
	if err != nil {
		return nil, nil, fmt.Errorf("dockerfile: %w", err)
	}
	var run string
	for _, line := range dockerfileLines(data) {
		if strings.HasPrefix(line, "RUN ") && strings.Contains(line, "go build") {
			run = strings.TrimPrefix(line, "RUN ")
		}
	}
	if run == "" {
		return nil, nil, fmt.Errorf("dockerfile %s: no RUN ... go build line", dockerfile)
	}
	fields := regexp.MustCompile(`"[^"]*"|\S+`).FindAllString(run, -1)
	for i, f := range fields {
		if f == "go" {
			env, args = fields[:i], fields[i+1:]
			break
		}
	}
	for i, a := range args {
		args[i] = strings.Trim(strings.ReplaceAll(a, "${VERSION}", version), `"`)
	}
	return env, args, nil
}

// DockerfileFinalStage is what the Dockerfile's last stage sets that the
// test image must match: its base, entrypoint and user.
type DockerfileFinalStage struct {
	From       string
	Entrypoint []string
	User       string
	Copies     []string // destination paths of COPY --from lines
}

// ReadDockerfileFinalStage parses the instructions of the last FROM stage.
func ReadDockerfileFinalStage(dockerfile string) (DockerfileFinalStage, error) {
	data, err := os.ReadFile(dockerfile)
	if err != nil {
		return DockerfileFinalStage{}, fmt.Errorf("dockerfile: %w", err)
	}
	var st DockerfileFinalStage
	for _, line := range dockerfileLines(data) {
		word, rest, _ := strings.Cut(line, " ")
		switch strings.ToUpper(word) {
		case "FROM":
			st = DockerfileFinalStage{From: strings.Fields(rest)[0]}
		case "ENTRYPOINT":
			st.Entrypoint = parseExecForm(rest)
		case "USER":
			st.User = strings.TrimSpace(rest)
		case "COPY":
			f := strings.Fields(rest)
			if len(f) > 0 && strings.HasPrefix(f[0], "--from") {
				st.Copies = append(st.Copies, f[len(f)-1])
			}
		}
	}
	if st.From == "" {
		return st, fmt.Errorf("dockerfile %s: no FROM", dockerfile)
	}
	return st, nil
}

func parseExecForm(s string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`"([^"]*)"`).FindAllStringSubmatch(s, -1) {
		out = append(out, m[1])
	}
	return out
}

// dockerfileLines joins continuation lines and drops comments and blanks.
func dockerfileLines(data []byte) []string {
	joined := strings.ReplaceAll(string(data), "\\\n", " ")
	var out []string
	for _, line := range strings.Split(joined, "\n") {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "#") {
			out = append(out, line)
		}
	}
	return out
}

// BuildLikeDockerfile runs the Dockerfile's build command in root with the
// output at out.
func BuildLikeDockerfile(root, dockerfile, out, version string) error {
	env, args, err := DockerfileBuild(dockerfile, version)
	if err != nil {
		return err
	}
	for i, a := range args {
		if a == "/out/sidecar" {
			args[i] = out
		}
	}
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), env...)
	if msg, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, msg)
	}
	return nil
}
