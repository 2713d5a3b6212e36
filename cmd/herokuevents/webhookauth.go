package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// oauth2Info is what the API shows of a webhook publication's OAuth2
// client credentials grant (never its secret).
type oauth2Info struct {
	TokenURL string   `json:"token_url"`
	ClientID string   `json:"client_id"`
	Scopes   []string `json:"scopes"`
	Audience string   `json:"audience"`
}

// mtlsInfo is what the API shows of a webhook publication's TLS client
// certificate (never its key).
type mtlsInfo struct {
	Subject     string    `json:"subject"`
	NotAfter    time.Time `json:"not_after"`
	Fingerprint string    `json:"fingerprint_sha256"`
}

// authFields are the info lines of a publication's OAuth2 grant and
// client certificate.
func (p publication) authFields() []field {
	var fields []field
	if o := p.OAuth2; o != nil {
		v := "token URL " + o.TokenURL + ", client id " + o.ClientID
		if len(o.Scopes) > 0 {
			v += ", scopes " + strings.Join(o.Scopes, " ")
		}
		if o.Audience != "" {
			v += ", audience " + o.Audience
		}
		fields = append(fields, field{Key: "OAuth2", Values: values(v)})
	}
	if m := p.MTLS; m != nil {
		v := "certificate " + m.Subject + ", expires " + m.NotAfter.UTC().Format(time.RFC3339)
		if time.Now().After(m.NotAfter) {
			v = "certificate " + m.Subject + ", EXPIRED " + m.NotAfter.UTC().Format(time.RFC3339)
		}
		fields = append(fields, field{Key: "mTLS", Values: values(v)})
	}
	return fields
}

// authUpdateFlags are the flags of publications:update that change a
// webhook publication's OAuth2 grant and client certificate, by body
// field; the file flags send the file's contents.
var authUpdateFlags = []struct {
	name, field, usage string
	file               bool
}{
	{"oauth2-token-url", "oauth2_token_url", "webhook: OAuth2 token endpoint (https; '' removes OAuth2; a new one needs --oauth2-client-secret)", false},
	{"oauth2-client-id", "oauth2_client_id", "webhook: OAuth2 client id", false},
	{"oauth2-client-secret", "oauth2_client_secret", "webhook: OAuth2 client secret (stored sealed, never shown)", false},
	{"oauth2-scopes", "oauth2_scopes", "webhook: OAuth2 scopes, comma-separated", false},
	{"oauth2-audience", "oauth2_audience", "webhook: OAuth2 audience", false},
	{"client-cert", "client_cert", "webhook: file of the PEM client certificate for mutual TLS ('' with --client-key '' removes it)", true},
	{"client-key", "client_key", "webhook: file of the PEM private key of --client-cert (stored sealed)", true},
}

func addAuthUpdateFlags(fl *pflag.FlagSet) {
	for _, a := range authUpdateFlags {
		fl.String(a.name, "", a.usage)
	}
}

// authUpdateBody puts the given auth flags in body, a file's contents for
// the file flags.
func authUpdateBody(fl *pflag.FlagSet, body map[string]any) error {
	for _, a := range authUpdateFlags {
		if !fl.Changed(a.name) {
			continue
		}
		v, _ := fl.GetString(a.name)
		if a.file && v != "" {
			b, err := os.ReadFile(v)
			if err != nil {
				return fmt.Errorf("--%s: %w", a.name, err)
			}
			v = string(b)
		}
		body[a.field] = v
	}
	return nil
}
