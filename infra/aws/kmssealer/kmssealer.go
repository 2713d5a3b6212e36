// Package kmssealer implements secret.Sealer with AWS KMS envelope
// encryption: every Seal asks KMS for a fresh AES-256 data key
// (GenerateDataKey), encrypts locally with AES-256-GCM and stores the
// KMS-encrypted data key beside the ciphertext; Open has KMS decrypt the
// data key (Decrypt), then decrypts locally.
//
// Sealed format: version byte (1), big-endian uint16 length n, n bytes of
// encrypted data key, 12-byte nonce, ciphertext and GCM tag. The version,
// length and encrypted key are authenticated as GCM additional data, and
// KMS binds the data key to the encryption context
// {"purpose": "herokuevents-secret"}.
package kmssealer

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"

	"github.com/herokuevents/herokuevents/shared/secret"
)

// version is the first byte of every sealed value.
const version byte = 1

const (
	keySize   = 32
	nonceSize = 12
	header    = 3 // version + uint16 length
	// DefaultCacheTTL is how long a decrypted data key is kept to open
	// further values sealed under it without calling KMS.
	DefaultCacheTTL = 5 * time.Minute
	// maxCached bounds the data-key cache.
	maxCached = 1024
)

// purpose is the KMS encryption context of every data key.
var purpose = map[string]string{"purpose": "herokuevents-secret"}

// api is the part of *kms.Client the sealer uses.
type api interface {
	GenerateDataKey(ctx context.Context, in *kms.GenerateDataKeyInput, opts ...func(*kms.Options)) (*kms.GenerateDataKeyOutput, error)
	Decrypt(ctx context.Context, in *kms.DecryptInput, opts ...func(*kms.Options)) (*kms.DecryptOutput, error)
}

// Sealer seals with KMS envelope encryption under one KMS key. It is safe
// for concurrent use. KMS calls are retried by the AWS SDK's retryer only;
// Seal and Open return other KMS and transport errors as they are (callers
// may retry), while Open returns an error wrapping secret.ErrOpen when the
// value is malformed, tampered, or KMS refuses its data key (invalid, under
// another key, or under a key this principal may not use: an IAM
// misconfiguration therefore also shows as ErrOpen, with KMS's error
// wrapped beside it).
type Sealer struct {
	client api
	keyID  string
	// CacheTTL is how long decrypted data keys are cached (DefaultCacheTTL
	// from New; 0 disables the cache). Set it before first use.
	CacheTTL time.Duration
	now      func() time.Time

	mu    sync.Mutex
	cache map[string]cached
}

type cached struct {
	aead    cipher.AEAD
	expires time.Time
}

var _ secret.Sealer = (*Sealer)(nil)

// New returns a sealer using the KMS key keyID (key id, ARN or alias).
func New(client *kms.Client, keyID string) *Sealer {
	return newSealer(client, keyID)
}

// FromConfig is New with a client made from cfg: the functions that
// seal or open tenants' secrets (KMS_KEY_ID) make their sealer here, so
// that the others link no KMS client (awsenv does not).
func FromConfig(cfg aws.Config, keyID string) *Sealer {
	return New(kms.NewFromConfig(cfg), keyID)
}

func newSealer(client api, keyID string) *Sealer {
	return &Sealer{client: client, keyID: keyID, CacheTTL: DefaultCacheTTL, now: time.Now, cache: map[string]cached{}}
}

// Seal encrypts plaintext under a fresh data key.
func (s *Sealer) Seal(ctx context.Context, plaintext []byte) ([]byte, error) {
	out, err := s.client.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{
		KeyId:             aws.String(s.keyID),
		KeySpec:           types.DataKeySpecAes256,
		EncryptionContext: purpose,
	})
	if err != nil {
		return nil, fmt.Errorf("seal secret: generate data key: %w", err)
	}
	if len(out.Plaintext) != keySize || len(out.CiphertextBlob) == 0 || len(out.CiphertextBlob) > 0xFFFF {
		return nil, fmt.Errorf("seal secret: generate data key: unexpected sizes (key %d, blob %d bytes)", len(out.Plaintext), len(out.CiphertextBlob))
	}
	aead, err := newAEAD(out.Plaintext)
	clear(out.Plaintext)
	if err != nil {
		return nil, fmt.Errorf("seal secret: %w", err)
	}
	blob := out.CiphertextBlob
	n := header + len(blob)
	sealed := make([]byte, n+nonceSize, n+nonceSize+len(plaintext)+aead.Overhead())
	sealed[0] = version
	binary.BigEndian.PutUint16(sealed[1:3], uint16(len(blob)))
	copy(sealed[header:], blob)
	nonce := sealed[n : n+nonceSize]
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("seal secret: %w", err)
	}
	s.remember(blob, aead)
	return aead.Seal(sealed, nonce, plaintext, sealed[:n]), nil
}

// Open decrypts a value sealed by Seal under the same KMS key.
func (s *Sealer) Open(ctx context.Context, sealed []byte) ([]byte, error) {
	if len(sealed) < header || sealed[0] != version {
		return nil, fmt.Errorf("%w: not a KMS-sealed value", secret.ErrOpen)
	}
	bl := int(binary.BigEndian.Uint16(sealed[1:3]))
	n := header + bl
	if bl == 0 || len(sealed) < n+nonceSize+16 {
		return nil, fmt.Errorf("%w: sealed value is truncated", secret.ErrOpen)
	}
	blob := sealed[header:n]
	aead, err := s.dataKey(ctx, blob)
	if err != nil {
		return nil, err
	}
	pt, err := aead.Open(nil, sealed[n:n+nonceSize], sealed[n+nonceSize:], sealed[:n])
	if err != nil {
		return nil, fmt.Errorf("%w: authentication failed", secret.ErrOpen)
	}
	if pt == nil {
		pt = []byte{}
	}
	return pt, nil
}

// dataKey returns the cipher of an encrypted data key, from the cache or KMS.
func (s *Sealer) dataKey(ctx context.Context, blob []byte) (cipher.AEAD, error) {
	if a := s.cached(blob); a != nil {
		return a, nil
	}
	out, err := s.client.Decrypt(ctx, &kms.DecryptInput{
		CiphertextBlob:    blob,
		KeyId:             aws.String(s.keyID),
		EncryptionContext: purpose,
	})
	if err != nil {
		if refused(err) {
			return nil, fmt.Errorf("%w: decrypt data key: %w", secret.ErrOpen, err)
		}
		return nil, fmt.Errorf("open secret: decrypt data key: %w", err)
	}
	if len(out.Plaintext) != keySize {
		return nil, fmt.Errorf("%w: data key has %d bytes", secret.ErrOpen, len(out.Plaintext))
	}
	aead, err := newAEAD(out.Plaintext)
	clear(out.Plaintext)
	if err != nil {
		return nil, fmt.Errorf("open secret: %w", err)
	}
	s.remember(blob, aead)
	return aead, nil
}

// refused reports whether KMS rejected the encrypted data key itself (as
// opposed to being unavailable). KMS answers AccessDeniedException for a
// data key under a KMS key this principal cannot use, which is how a blob
// with a damaged key reference looks too.
func refused(err error) bool {
	var (
		invalid   *types.InvalidCiphertextException
		incorrect *types.IncorrectKeyException
		notFound  *types.NotFoundException
		usage     *types.InvalidKeyUsageException
		apiErr    smithy.APIError
	)
	return errors.As(err, &invalid) || errors.As(err, &incorrect) || errors.As(err, &notFound) || errors.As(err, &usage) ||
		(errors.As(err, &apiErr) && apiErr.ErrorCode() == "AccessDeniedException")
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

func (s *Sealer) cached(blob []byte) cipher.AEAD {
	if s.CacheTTL <= 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.cache[string(blob)]
	if !ok {
		return nil
	}
	if !s.now().Before(c.expires) {
		delete(s.cache, string(blob))
		return nil
	}
	return c.aead
}

func (s *Sealer) remember(blob []byte, aead cipher.AEAD) {
	if s.CacheTTL <= 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if len(s.cache) >= maxCached {
		for k, c := range s.cache {
			if !now.Before(c.expires) {
				delete(s.cache, k)
			}
		}
		// Still full: drop arbitrary entries (map order) to make room.
		for k := range s.cache {
			if len(s.cache) < maxCached {
				break
			}
			delete(s.cache, k)
		}
	}
	s.cache[string(blob)] = cached{aead: aead, expires: now.Add(s.CacheTTL)}
}
