// Package filesealer is the secret.Sealer of the embedded mode: AES-256-GCM
// under a key kept in a file of the data dir.
package filesealer

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/herokuevents/herokuevents/shared/secret"
)

// KeySize is the size of a Sealer key: AES-256.
const KeySize = 32

// keyVersion is the first byte of every value sealed by Sealer.
const keyVersion byte = 1

// Sealer seals with AES-256-GCM under a key kept in a file (the embedded
// mode). Sealed values are: version byte, 12-byte random nonce, ciphertext
// and tag; the version byte is authenticated too. Sealer is safe for
// concurrent use and never fails except on a random-source failure (Seal)
// or on values it cannot open (Open: secret.ErrOpen).
type Sealer struct {
	aead cipher.AEAD
}

var _ secret.Sealer = (*Sealer)(nil)

// Open loads the key file at path, or creates it (with a fresh random
// key, mode 0600, parent directories 0700) when it does not exist. It
// refuses a key file that group or others may access, or that does not hold
// exactly KeySize bytes.
func Open(path string) (*Sealer, error) {
	key, err := readKey(path)
	if errors.Is(err, fs.ErrNotExist) {
		key, err = createKey(path)
	}
	if err != nil {
		return nil, err
	}
	return New(key)
}

// New returns a Sealer sealer with the given KeySize-byte key.
func New(key []byte) (*Sealer, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("secret key: want %d bytes, got %d", KeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("secret key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("secret key: %w", err)
	}
	return &Sealer{aead: aead}, nil
}

func readKey(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("secret key file %s is not a regular file", path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("secret key file %s has mode %04o: group and others must have no access (run: chmod 600 %s)", path, perm, path)
	}
	key, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read secret key file: %w", err)
	}
	if len(key) != KeySize {
		return nil, fmt.Errorf("secret key file %s holds %d bytes, want %d", path, len(key), KeySize)
	}
	return key, nil
}

// createKey writes a new key atomically: to a temporary file first, then
// hard-linked into place so that a concurrent creator's key wins cleanly.
func createKey(path string) ([]byte, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create secret key directory: %w", err)
	}
	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("generate secret key: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".key-*")
	if err != nil {
		return nil, fmt.Errorf("create secret key file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("create secret key file: %w", err)
	}
	if _, err := tmp.Write(key); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("write secret key file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("sync secret key file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("close secret key file: %w", err)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return readKey(path)
		}
		return nil, fmt.Errorf("install secret key file: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return key, nil
}

// Seal encrypts plaintext under a fresh random nonce.
func (l *Sealer) Seal(_ context.Context, plaintext []byte) ([]byte, error) {
	ns := l.aead.NonceSize()
	out := make([]byte, 1+ns, 1+ns+len(plaintext)+l.aead.Overhead())
	out[0] = keyVersion
	if _, err := rand.Read(out[1 : 1+ns]); err != nil {
		return nil, fmt.Errorf("seal secret: %w", err)
	}
	return l.aead.Seal(out, out[1:1+ns], plaintext, out[:1]), nil
}

// Open decrypts a value sealed by Seal with the same key. It returns an
// error wrapping secret.ErrOpen for any other input (wrong key, tampered,
// truncated, unknown version).
func (l *Sealer) Open(_ context.Context, sealed []byte) ([]byte, error) {
	ns := l.aead.NonceSize()
	if len(sealed) < 1+ns+l.aead.Overhead() {
		return nil, fmt.Errorf("%w: sealed value is too short", secret.ErrOpen)
	}
	if sealed[0] != keyVersion {
		return nil, fmt.Errorf("%w: unknown version %d", secret.ErrOpen, sealed[0])
	}
	pt, err := l.aead.Open(nil, sealed[1:1+ns], sealed[1+ns:], sealed[:1])
	if err != nil {
		return nil, fmt.Errorf("%w: authentication failed", secret.ErrOpen)
	}
	if pt == nil {
		pt = []byte{}
	}
	return pt, nil
}
