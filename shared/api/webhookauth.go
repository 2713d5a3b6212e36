package api

import (
	"time"

	"github.com/herokuevents/herokuevents/shared/config"
)

// oauth2View is what is shown of a webhook publication's OAuth2 client
// credentials grant: never its client secret.
type oauth2View struct {
	TokenURL string   `json:"token_url"`
	ClientID string   `json:"client_id"`
	Scopes   []string `json:"scopes,omitempty"`
	Audience string   `json:"audience,omitempty"`
}

// mtlsView is what is shown of a webhook publication's TLS client
// certificate: never its key.
type mtlsView struct {
	Subject     string    `json:"subject"`
	NotAfter    time.Time `json:"not_after"`
	Fingerprint string    `json:"fingerprint_sha256"`
}

func oauth2Of(p config.Publication) *oauth2View {
	if o := p.OAuth2; o != nil {
		return &oauth2View{TokenURL: o.TokenURL, ClientID: o.ClientID, Scopes: o.Scopes, Audience: o.Audience}
	}
	return nil
}

func mtlsOf(p config.Publication) *mtlsView {
	if c := p.ClientCert; c != nil {
		return &mtlsView{Subject: c.Subject, NotAfter: c.NotAfter.UTC(), Fingerprint: c.Fingerprint}
	}
	return nil
}
