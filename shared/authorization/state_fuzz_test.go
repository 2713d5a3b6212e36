package authorization

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// FuzzParseState: the state of an OAuth callback (GET
// /oauth/salesforce/callback?state=…, anyone's input) splits into a
// tenant, an authorization id that is a UUID and a secret of at least 40
// characters, or is refused; what a login URL's state carries parses back.
func FuzzParseState(f *testing.F) {
	enc := base64.RawURLEncoding.EncodeToString
	good := enc([]byte("t-1")) + "." + enc([]byte("0b9b5c2e-3f39-4c38-9d43-5f2c8e6a7b10")) + "." + strings.Repeat("s", 43)
	for _, s := range []string{good, "", "..", "a.b.c", good + ".x", enc([]byte("t")) + "." + enc([]byte("not-a-uuid")) + "." + strings.Repeat("s", 43), "==.==." + strings.Repeat("s", 40)} {
		f.Add(s, "tenant", "secret")
	}
	f.Fuzz(func(t *testing.T, state, tenant, secretPart string) {
		tn, id, sec, ok := parseState(state)
		if ok {
			require.NotEmpty(t, tn)
			require.NoError(t, uuid.Validate(id))
			require.GreaterOrEqual(t, len(sec), 40)
		} else {
			require.Empty(t, tn+id+sec)
		}
		id2 := uuid.NewString()
		sec2 := enc([]byte(secretPart + strings.Repeat("s", 40)))
		tn2, gotID, gotSec, ok := parseState(enc([]byte(tenant)) + "." + enc([]byte(id2)) + "." + sec2)
		if tenant == "" {
			require.False(t, ok)
			return
		}
		require.True(t, ok)
		require.Equal(t, tenant, tn2)
		require.Equal(t, id2, gotID)
		require.Equal(t, sec2, gotSec)
	})
}
