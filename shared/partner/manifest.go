package partner

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
)

// Flags of a manifest's api.requires that herokuevents acts on.
const (
	RequireDeployNotify = "deploy_notify"
	RequireAttachNotify = "attach_notify"
	RequireManyPerApp   = "many_per_app"
	RequireAttachable   = "attachable"
)

// knownRequires are the api.requires values of Heroku add-on manifests;
// the last two are accepted and recorded but have no effect here.
var knownRequires = []string{
	RequireDeployNotify, RequireAttachNotify, RequireManyPerApp, RequireAttachable,
	"syslog_drain", "log_input",
}

// ErrManifest is wrapped by every manifest validation error.
var ErrManifest = errors.New("invalid manifest")

var partnerID = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z][a-z0-9-]{1,49}$`) })

// maxURL bounds a base URL's length.
const maxURL = 2048

// Manifest is the part of a Heroku add-on manifest that partner
// notifications need. Other manifest fields are ignored.
type Manifest struct {
	ID  string `json:"id"`
	API struct {
		Password   string   `json:"password"`
		Production endpoint `json:"production"`
		Test       endpoint `json:"test"`
		Requires   []string `json:"requires"`
	} `json:"api"`
}

// endpoint is api.production or api.test: {"base_url": …}, or the bare URL
// string of older manifests.
type endpoint struct {
	BaseURL string `json:"base_url"`
}

// UnmarshalJSON accepts an object with base_url or a string.
func (e *endpoint) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		return json.Unmarshal(b, &e.BaseURL)
	}
	if bytes.Equal(b, []byte("null")) {
		return nil
	}
	var obj struct {
		BaseURL string `json:"base_url"`
	}
	if err := json.Unmarshal(b, &obj); err != nil {
		return errors.New("must be an object with base_url")
	}
	e.BaseURL = obj.BaseURL
	return nil
}

// ParseManifest decodes and validates a manifest. With test set the
// partner is notified at api.test.base_url, which is then required (http or
// https); api.production.base_url is always required and must be https.
// Errors wrap ErrManifest and say which field is wrong.
func ParseManifest(raw []byte, test bool) (Manifest, error) {
	var m Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return m, fmt.Errorf("%w: field %s has the wrong type", ErrManifest, te.Field)
		}
		if strings.Contains(err.Error(), "base_url") {
			return m, fmt.Errorf("%w: api.production and api.test must be objects with base_url", ErrManifest)
		}
		return m, fmt.Errorf("%w: not a JSON object: %v", ErrManifest, err)
	}
	return m, m.Validate(test)
}

// Validate checks the fields described at ParseManifest.
func (m Manifest) Validate(test bool) error {
	switch {
	case m.ID == "":
		return fmt.Errorf("%w: id is missing", ErrManifest)
	case !partnerID().MatchString(m.ID):
		return fmt.Errorf("%w: id %q must be 2 to 50 lowercase letters, digits and dashes, starting with a letter", ErrManifest, m.ID)
	case m.API.Password == "":
		return fmt.Errorf("%w: api.password is missing", ErrManifest)
	}
	if err := checkBaseURL("api.production.base_url", m.API.Production.BaseURL, true); err != nil {
		return err
	}
	if test || m.API.Test.BaseURL != "" {
		if err := checkBaseURL("api.test.base_url", m.API.Test.BaseURL, false); err != nil {
			if !test {
				return err
			}
			return fmt.Errorf("%w (required with --test)", err)
		}
	}
	for _, r := range m.API.Requires {
		if !slices.Contains(knownRequires, r) {
			return fmt.Errorf("%w: api.requires has unknown value %q (known: %s)", ErrManifest, r, strings.Join(knownRequires, ", "))
		}
	}
	return nil
}

func checkBaseURL(field, raw string, httpsOnly bool) error {
	if raw == "" {
		return fmt.Errorf("%w: %s is missing", ErrManifest, field)
	}
	if len(raw) > maxURL {
		return fmt.Errorf("%w: %s is longer than %d characters", ErrManifest, field, maxURL)
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Hostname() == "" {
		return fmt.Errorf("%w: %s %q is not an absolute URL", ErrManifest, field, raw)
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && !httpsOnly:
	case httpsOnly:
		return fmt.Errorf("%w: %s %q must use https", ErrManifest, field, raw)
	default:
		return fmt.Errorf("%w: %s %q must use http or https", ErrManifest, field, raw)
	}
	if u.User != nil {
		return fmt.Errorf("%w: %s must not carry credentials (the api.password is sent as Basic auth)", ErrManifest, field)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%w: %s must not have a query or fragment", ErrManifest, field)
	}
	return nil
}
