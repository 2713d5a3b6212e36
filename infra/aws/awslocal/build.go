package awslocal

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/herokuevents/herokuevents/infra/aws/motoserver"
)

var moduleRoot = motoserver.ModuleRoot

// Role returns the functions/ folder of a function's logical id:
// ApiFunction → api.
func Role(id string) string { return strings.ToLower(strings.TrimSuffix(id, "Function")) }

// BuildOptions configure Build.
type BuildOptions struct {
	// Dir receives one binary per role, named after the role.
	Dir string
	// Arch is the GOARCH (amd64, arm64).
	Arch string
	// Strip drops the symbol table and DWARF (-ldflags=-s -w), as the
	// deployed binaries are.
	Strip bool
	// Roles are the functions/<role> folders to build.
	Roles []string
}

// Build compiles functions/<role> mains as the deployed `bootstrap`s are
// built (static linux, CGO_ENABLED=0, -tags lambda.norpc, -trimpath), all
// in one go command, and returns the path of each binary by role.
func Build(ctx context.Context, o BuildOptions) (map[string]string, error) {
	root, err := moduleRoot()
	if err != nil {
		return nil, err
	}
	args := []string{"build", "-tags", "lambda.norpc,grpcnotrace", "-trimpath"}
	if o.Strip {
		args = append(args, "-ldflags=-s -w")
	}
	args = append(args, "-o", o.Dir+string(filepath.Separator))
	out := map[string]string{}
	for _, r := range o.Roles {
		args = append(args, "./functions/"+r)
		out[r] = filepath.Join(o.Dir, r)
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("build functions: %w", err)
	}
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+o.Arch)
	if b, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("build functions %s for linux/%s: %w\n%s", strings.Join(o.Roles, " "), o.Arch, err, b)
	}
	return out, nil
}
