package embedded

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// ErrInUse is returned when another process owns the data dir.
var ErrInUse = errors.New("data dir in use")

// lockDir takes the exclusive lock of a data dir: one process owns it, so at
// start anything left in flight belongs to a dead process.
func lockDir(dir string) (*os.File, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	path := filepath.Join(dir, "lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		b, _ := os.ReadFile(path)
		f.Close()
		owner := strings.TrimSpace(string(b))
		if owner == "" {
			owner = "another process"
		} else {
			owner = "pid " + owner
		}
		return nil, fmt.Errorf("%w: %s is used by %s (one herokuevents serve per data dir; stop it or pass another --data-dir)", ErrInUse, dir, owner)
	}
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return f, nil
}

// operator is the platform operator's credentials (the add-on manifest's id
// and password) in the embedded mode, kept in the data dir with 0600.
type operator struct {
	ID       string `json:"id"`
	Password string `json:"password"`
}

func loadOperator(dir string) (operator, error) {
	path := filepath.Join(dir, "operator.json")
	var op operator
	if err := readPrivateJSON(path, &op); err == nil {
		return op, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return op, err
	}
	op = operator{ID: "herokuevents", Password: randomHex(32)}
	return op, writePrivateJSON(path, op)
}

// configVars are what Heroku keeps for an app: its add-on's config vars.
type configVars map[string]string

func appVarsPath(dir, app string) string { return filepath.Join(dir, "apps", app+".json") }

func readPrivateJSON(path string, v any) error {
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	if st.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("read %s: permissions %v are too open; it holds credentials (chmod 600 it)", path, st.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	return nil
}

func writePrivateJSON(path string, v any) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}
