package secret_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/herokuevents/herokuevents/infra/embedded/filesealer"
	"github.com/herokuevents/herokuevents/shared/secret"
)

// A Sealer seals a secret (an OAuth token, a webhook signing secret) before
// it is stored and opens it after it is read. Sealed values carry what Open
// needs besides the key; anything else fails with ErrOpen. The embedded
// mode's Sealer keeps its key in a file of the data dir (filesealer); on AWS
// it is a KMS envelope (kmssealer), used the same way.
func ExampleSealer() {
	dir, err := os.MkdirTemp("", "sealer-example-")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()

	// The key file is created on first use (mode 0600) and reused after.
	var s secret.Sealer
	if s, err = filesealer.Open(filepath.Join(dir, "secret.key")); err != nil {
		panic(err)
	}
	token := []byte("00Dxx0000001gPL!refresh-token")
	sealed, err := s.Seal(ctx, token)
	if err != nil {
		panic(err)
	}
	fmt.Println("sealed hides the token:", !bytes.Contains(sealed, token))

	// Sealing twice never gives the same bytes (a fresh nonce each time).
	again, _ := s.Seal(ctx, token)
	fmt.Println("sealed twice, same bytes:", bytes.Equal(sealed, again))

	// Another process opening the same key file opens what this one sealed.
	reopened, err := filesealer.Open(filepath.Join(dir, "secret.key"))
	if err != nil {
		panic(err)
	}
	opened, err := reopened.Open(ctx, sealed)
	if err != nil {
		panic(err)
	}
	fmt.Println("opened:", string(opened))

	// A tampered value does not open.
	sealed[len(sealed)-1] ^= 1
	_, err = s.Open(ctx, sealed)
	fmt.Println("tampered:", errors.Is(err, secret.ErrOpen))

	// Output:
	// sealed hides the token: true
	// sealed twice, same bytes: false
	// opened: 00Dxx0000001gPL!refresh-token
	// tampered: true
}
