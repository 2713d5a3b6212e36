// Package secret seals stored secrets (OAuth tokens, webhook tokens and
// signing secrets) so that they never rest in clear text.
//
// Drivers: Local (a key file, the embedded mode) and infra/aws/kmssealer
// (KMS envelope encryption).
package secret

import (
	"context"
	"errors"
)

// ErrOpen is returned when a sealed value cannot be opened (wrong key,
// tampered or truncated data).
var ErrOpen = errors.New("cannot open sealed secret")

// Sealer seals and opens small secrets. Implementations are safe for
// concurrent use. Sealed values are self-describing: Open needs nothing
// but the sealed bytes and the sealer's key.
type Sealer interface {
	Seal(ctx context.Context, plaintext []byte) ([]byte, error)
	Open(ctx context.Context, sealed []byte) ([]byte, error)
}
