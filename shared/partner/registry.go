package partner

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/google/uuid"

	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/name"
	"github.com/herokuevents/herokuevents/shared/secret"
)

// Registry keeps partners, their add-on resources and attachments in a
// config store. Its errors for bad input or state are *config.Problem
// (config.ErrInvalid, ErrNotFound, ErrConflict) with a message for the
// user; other errors are internal. Safe for concurrent use.
type Registry struct {
	Store  config.Store
	Sealer secret.Sealer
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// NewID makes the ids of add-ons and attachments; uuid.NewString when nil.
	NewID func() string
	// NewResourceName names new add-on resources (writing-nobly-1234);
	// random words when nil.
	NewResourceName func() (string, error)
}

func (r *Registry) newID() string {
	if r.NewID != nil {
		return r.NewID()
	}
	return uuid.NewString()
}

func (r *Registry) now() time.Time {
	if r.Now != nil {
		return r.Now().UTC().Truncate(time.Second)
	}
	return time.Now().UTC().Truncate(time.Second)
}

// CreateOptions are the operator's settings of a new partner.
type CreateOptions struct {
	Test     bool
	LogToken bool
	Retry    Retry
}

var (
	// compiled at their first use, not in the api function's init
	attName  = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,62}$`) })
	herokuID = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[^\s@]{1,100}@[A-Za-z0-9.-]{1,100}$`) })
)

// maxResourceID bounds a partner's resource id.
const maxResourceID = 255

func invalid(format string, args ...any) error { return config.Invalid(format, args...) }

func notFound(format string, args ...any) error { return config.NotFound(format, args...) }

func conflict(cause error, format string, args ...any) error {
	return config.Conflict(cause, format, args...)
}

// CreatePartner registers the partner of a validated manifest, its
// password sealed.
func (r *Registry) CreatePartner(ctx context.Context, m Manifest, o CreateOptions) (Partner, error) {
	if err := m.Validate(o.Test); err != nil {
		return Partner{}, invalid("%s", err.Error())
	}
	if o.Retry.MaxAttempts < 0 || o.Retry.MaxAttempts > MaxAttempts {
		return Partner{}, invalid("max_attempts must be 1 to %d.", MaxAttempts)
	}
	if o.Retry.Horizon < 0 || o.Retry.Horizon > MaxHorizon {
		return Partner{}, invalid("retry_horizon must be at most %s.", MaxHorizon)
	}
	sealed, err := r.Sealer.Seal(ctx, []byte(m.API.Password))
	if err != nil {
		return Partner{}, fmt.Errorf("seal partner password: %w", err)
	}
	p := Partner{
		ID:             m.ID,
		PasswordSealed: sealed,
		ProductionURL:  m.API.Production.BaseURL,
		TestURL:        m.API.Test.BaseURL,
		Test:           o.Test,
		Requires:       slices.Compact(slices.Sorted(slices.Values(m.API.Requires))),
		LogToken:       o.LogToken,
		Retry:          o.Retry,
		Created:        r.now(),
	}
	_, err = config.Insert(ctx, r.Store, config.Item{Kind: KindPartner, ID: p.ID, Name: p.ID}, p)
	if errors.Is(err, config.ErrConflict) {
		return Partner{}, conflict(err, "Partner %s is already registered.", p.ID)
	}
	if err != nil {
		return Partner{}, fmt.Errorf("create partner %s: %w", p.ID, err)
	}
	return p, nil
}

// Partners lists the registered partners by id.
func (r *Registry) Partners(ctx context.Context) ([]Partner, error) {
	recs, err := config.LoadAll[Partner](ctx, r.Store, "", KindPartner)
	if err != nil {
		return nil, fmt.Errorf("list partners: %w", err)
	}
	out := make([]Partner, 0, len(recs))
	for _, rec := range recs {
		out = append(out, rec.Value)
	}
	return out, nil
}

// Partner reads one partner.
func (r *Registry) Partner(ctx context.Context, id string) (Partner, error) {
	rec, err := config.Load[Partner](ctx, r.Store, "", KindPartner, id)
	if errors.Is(err, config.ErrNotFound) {
		return Partner{}, notFound("Partner %s not found.", id)
	}
	if err != nil {
		return Partner{}, fmt.Errorf("load partner %s: %w", id, err)
	}
	return rec.Value, nil
}

// Password opens the partner's api.password.
func (r *Registry) Password(ctx context.Context, p Partner) (string, error) {
	b, err := r.Sealer.Open(ctx, p.PasswordSealed)
	if err != nil {
		return "", fmt.Errorf("open password of partner %s: %w", p.ID, err)
	}
	return string(b), nil
}

// DeletePartner removes a partner with its add-ons and attachments.
func (r *Registry) DeletePartner(ctx context.Context, id string) error {
	p, err := r.Partner(ctx, id)
	if err != nil {
		return err
	}
	atts, err := r.attachments(ctx)
	if err != nil {
		return err
	}
	for _, a := range atts {
		if a.Partner == p.ID {
			if err := r.Store.Delete(ctx, "", KindAttachment, a.ID, 0); err != nil && !errors.Is(err, config.ErrNotFound) {
				return fmt.Errorf("delete attachment %s: %w", a.ID, err)
			}
		}
	}
	addons, err := config.LoadAll[Addon](ctx, r.Store, "", KindAddon)
	if err != nil {
		return fmt.Errorf("list add-ons: %w", err)
	}
	for _, a := range addons {
		if a.Value.Partner == p.ID {
			if err := r.Store.Delete(ctx, "", KindAddon, a.Value.ID, 0); err != nil && !errors.Is(err, config.ErrNotFound) {
				return fmt.Errorf("delete add-on %s: %w", a.Value.ID, err)
			}
		}
	}
	if err := r.Store.Delete(ctx, "", KindPartner, p.ID, 0); err != nil {
		if errors.Is(err, config.ErrNotFound) {
			return notFound("Partner %s not found.", id)
		}
		return fmt.Errorf("delete partner %s: %w", p.ID, err)
	}
	return nil
}

// AttachRequest attaches a partner's resource to an app.
type AttachRequest struct {
	Partner    string `json:"partner"`
	App        string `json:"app"`
	ResourceID string `json:"resource_id"`
	// HerokuID identifies the app in notifications; by default derived
	// from the app name (APP@heroku.com).
	HerokuID string `json:"heroku_id"`
	// AppID is the app's uuid; by default the one of the app's other
	// attachments, or one derived from HerokuID.
	AppID string `json:"app_id"`
	// As names the attachment; by default PARTNER_COLOR (MYADDON_CYAN).
	As string `json:"as"`
	// LogToken is the app's log token; by default one is made for partners
	// entitled to log tokens.
	LogToken string `json:"log_token"`
}

// DefaultHerokuID is the heroku_id of an app attached without one.
func DefaultHerokuID(app string) string { return app + "@heroku.com" }

// colors name attachments the way Heroku does (HEROKU_POSTGRESQL_CYAN).
var colors = []string{
	"CYAN", "AMBER", "BLUE", "BRONZE", "CHARCOAL", "COPPER", "CRIMSON", "GOLD", "GRAY", "GREEN",
	"IVORY", "JADE", "LIME", "MAGENTA", "MAROON", "NAVY", "OLIVE", "ONYX", "ORANGE", "PINK",
	"PURPLE", "RED", "ROSE", "SILVER", "TEAL", "WHITE", "YELLOW",
}

// Attach records an attachment (and the add-on resource when it is new),
// enforcing the manifest's attachable and many_per_app.
func (r *Registry) Attach(ctx context.Context, req AttachRequest) (Attachment, Addon, Partner, error) {
	p, err := r.Partner(ctx, req.Partner)
	if err != nil {
		return Attachment{}, Addon{}, Partner{}, err
	}
	if err := validAttach(&req); err != nil {
		return Attachment{}, Addon{}, Partner{}, err
	}
	atts, err := r.attachments(ctx)
	if err != nil {
		return Attachment{}, Addon{}, Partner{}, err
	}
	appID := uuid.NewSHA1(uuid.NameSpaceURL, []byte("herokuevents:app:"+req.HerokuID)).String()
	var onApp []Attachment
	for _, a := range atts {
		switch {
		case a.AppName == req.App && a.HerokuID != req.HerokuID:
			return Attachment{}, Addon{}, Partner{}, conflict(nil, "App %s has heroku id %s, not %s.", req.App, a.HerokuID, req.HerokuID)
		case a.AppName != req.App && a.HerokuID == req.HerokuID:
			return Attachment{}, Addon{}, Partner{}, conflict(nil, "Heroku id %s belongs to app %s, not %s.", req.HerokuID, a.AppName, req.App)
		case a.AppName == req.App && req.AppID != "" && a.AppID != req.AppID:
			return Attachment{}, Addon{}, Partner{}, conflict(nil, "App %s has app id %s, not %s.", req.App, a.AppID, req.AppID)
		case a.AppName == req.App:
			onApp = append(onApp, a)
			appID = a.AppID
		}
	}
	if req.AppID != "" {
		appID = req.AppID
	}

	addonName := p.ID + "/" + req.ResourceID
	addon, err := config.Load[Addon](ctx, r.Store, "", KindAddon, addonName)
	isNew := errors.Is(err, config.ErrNotFound)
	if err != nil && !isNew {
		return Attachment{}, Addon{}, Partner{}, fmt.Errorf("load add-on %s: %w", addonName, err)
	}
	if !isNew {
		if addon.Item.Name != addonName {
			return Attachment{}, Addon{}, Partner{}, conflict(nil, "Resource id %s is ambiguous.", req.ResourceID)
		}
		if addon.Value.Gone {
			return Attachment{}, Addon{}, Partner{}, conflict(nil, "Resource %s of partner %s is gone: %s", req.ResourceID, p.ID, addon.Value.GoneReason)
		}
		for _, a := range atts {
			if a.Addon != addon.Value.ID {
				continue
			}
			if a.AppName == req.App {
				return Attachment{}, Addon{}, Partner{}, conflict(nil, "Resource %s is already attached to %s as %s.", req.ResourceID, req.App, a.Name)
			}
			if !p.Has(RequireAttachable) {
				return Attachment{}, Addon{}, Partner{}, invalid("Resource %s is attached to app %s and partner %s is not attachable (its manifest lacks %q in api.requires).",
					req.ResourceID, a.AppName, p.ID, RequireAttachable)
			}
		}
	}
	for _, a := range onApp {
		if a.Partner == p.ID && !p.Has(RequireManyPerApp) {
			return Attachment{}, Addon{}, Partner{}, invalid("App %s already has %s (%s) and partner %s does not allow many per app (its manifest lacks %q in api.requires).",
				req.App, p.ID, a.Name, p.ID, RequireManyPerApp)
		}
	}

	name := req.As
	if name == "" {
		if name, err = freeName(p.ID, onApp); err != nil {
			return Attachment{}, Addon{}, Partner{}, err
		}
	}
	for _, a := range onApp {
		if strings.EqualFold(a.Name, name) {
			return Attachment{}, Addon{}, Partner{}, conflict(nil, "App %s already has an attachment named %s.", req.App, a.Name)
		}
	}

	now := r.now()
	if isNew {
		newName := r.NewResourceName
		if newName == nil {
			newName = resourceName
		}
		an, err := newName()
		if err != nil {
			return Attachment{}, Addon{}, Partner{}, err
		}
		v := Addon{ID: r.newID(), Name: an, Partner: p.ID, ResourceID: req.ResourceID, Created: now}
		addon, err = config.Insert(ctx, r.Store, config.Item{Kind: KindAddon, ID: v.ID, Name: addonName}, v)
		if errors.Is(err, config.ErrConflict) {
			return Attachment{}, Addon{}, Partner{}, conflict(err, "Resource %s of partner %s is being attached concurrently; try again.", req.ResourceID, p.ID)
		}
		if err != nil {
			return Attachment{}, Addon{}, Partner{}, fmt.Errorf("create add-on %s: %w", addonName, err)
		}
	}
	token := req.LogToken
	if token == "" && p.LogToken {
		token = "d." + uuid.NewString()
	}
	att := Attachment{
		ID: r.newID(), Name: name, Addon: addon.Value.ID, Partner: p.ID,
		HerokuID: req.HerokuID, AppID: appID, AppName: req.App, LogToken: token, Created: now,
	}
	_, err = config.Insert(ctx, r.Store, config.Item{Kind: KindAttachment, ID: att.ID, Name: req.App + "/" + name}, att)
	if err != nil {
		if isNew {
			_ = r.Store.Delete(ctx, "", KindAddon, addon.Value.ID, 0)
		}
		if errors.Is(err, config.ErrConflict) {
			return Attachment{}, Addon{}, Partner{}, conflict(err, "App %s already has an attachment named %s.", req.App, name)
		}
		return Attachment{}, Addon{}, Partner{}, fmt.Errorf("create attachment %s: %w", name, err)
	}
	return att, addon.Value, p, nil
}

func validAttach(req *AttachRequest) error {
	req.App = strings.TrimSpace(req.App)
	if err := name.CheckApp(req.App); err != nil {
		return err
	}
	if req.ResourceID == "" {
		return invalid("resource_id is required: the id the partner returned at provisioning.")
	}
	if len(req.ResourceID) > maxResourceID || strings.ContainsFunc(req.ResourceID, func(r rune) bool { return unicode.IsControl(r) || unicode.IsSpace(r) }) {
		return invalid("resource_id must be at most %d characters without spaces.", maxResourceID)
	}
	if req.HerokuID == "" {
		req.HerokuID = DefaultHerokuID(req.App)
	}
	if !herokuID().MatchString(req.HerokuID) {
		return invalid("heroku_id %q must look like app123@heroku.com.", req.HerokuID)
	}
	if req.As != "" && !attName().MatchString(req.As) {
		return invalid("Attachment name %q: use letters, digits and underscores, starting with a letter (at most 63).", req.As)
	}
	if req.AppID != "" && uuid.Validate(req.AppID) != nil {
		return invalid("app_id %q must be a uuid.", req.AppID)
	}
	if len(req.LogToken) > 200 {
		return invalid("log_token is longer than 200 characters.")
	}
	return nil
}

// freeName is PARTNER_COLOR with the first color no attachment of the app uses.
func freeName(partner string, onApp []Attachment) (string, error) {
	prefix := strings.ToUpper(strings.ReplaceAll(partner, "-", "_"))
	for _, c := range colors {
		name := prefix + "_" + c
		if !slices.ContainsFunc(onApp, func(a Attachment) bool { return strings.EqualFold(a.Name, name) }) {
			return name, nil
		}
	}
	return "", invalid("App has too many attachments of %s; name this one with --as.", partner)
}

var (
	adjectives = []string{"writing", "deploying", "shining", "rolling", "sailing", "singing", "dancing", "flying", "growing", "waking"}
	adverbs    = []string{"nobly", "furiously", "quietly", "boldly", "gently", "swiftly", "brightly", "calmly", "kindly", "deeply"}
)

// resourceName makes a Heroku-style add-on resource name: writing-nobly-1234.
func resourceName() (string, error) {
	pick := func(n int) (int, error) {
		v, err := rand.Int(rand.Reader, big.NewInt(int64(n)))
		if err != nil {
			return 0, fmt.Errorf("read random: %w", err)
		}
		return int(v.Int64()), nil
	}
	a, err := pick(len(adjectives))
	if err != nil {
		return "", err
	}
	b, err := pick(len(adverbs))
	if err != nil {
		return "", err
	}
	n, err := pick(9000)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s-%s-%d", adjectives[a], adverbs[b], 1000+n), nil
}

// Detach removes the attachment named name (or with that id) from app and
// the add-on resource once nothing is attached to it.
func (r *Registry) Detach(ctx context.Context, app, name string) (Attachment, Addon, Partner, error) {
	rec, err := config.Load[Attachment](ctx, r.Store, "", KindAttachment, app+"/"+name)
	if errors.Is(err, config.ErrNotFound) {
		rec, err = config.Load[Attachment](ctx, r.Store, "", KindAttachment, name)
	}
	if errors.Is(err, config.ErrNotFound) || (err == nil && rec.Value.AppName != app) {
		return Attachment{}, Addon{}, Partner{}, notFound("App %s has no add-on attachment %s.", app, name)
	}
	if err != nil {
		return Attachment{}, Addon{}, Partner{}, fmt.Errorf("load attachment %s: %w", name, err)
	}
	att := rec.Value
	p, err := r.Partner(ctx, att.Partner)
	if err != nil {
		return Attachment{}, Addon{}, Partner{}, err
	}
	addon, err := config.Load[Addon](ctx, r.Store, "", KindAddon, att.Addon)
	if err != nil {
		return Attachment{}, Addon{}, Partner{}, fmt.Errorf("load add-on %s: %w", att.Addon, err)
	}
	if err := r.Store.Delete(ctx, "", KindAttachment, att.ID, rec.Version); err != nil {
		if errors.Is(err, config.ErrNotFound) {
			return Attachment{}, Addon{}, Partner{}, notFound("App %s has no add-on attachment %s.", app, name)
		}
		return Attachment{}, Addon{}, Partner{}, fmt.Errorf("delete attachment %s: %w", att.Name, err)
	}
	atts, err := r.attachments(ctx)
	if err != nil {
		return Attachment{}, Addon{}, Partner{}, err
	}
	if !slices.ContainsFunc(atts, func(a Attachment) bool { return a.Addon == att.Addon }) {
		if err := r.Store.Delete(ctx, "", KindAddon, att.Addon, 0); err != nil && !errors.Is(err, config.ErrNotFound) {
			return Attachment{}, Addon{}, Partner{}, fmt.Errorf("delete add-on %s: %w", att.Addon, err)
		}
	}
	return att, addon.Value, p, nil
}

// AppAttachments lists the attachments of an app by name.
func (r *Registry) AppAttachments(ctx context.Context, app string) ([]Attachment, error) {
	atts, err := r.attachments(ctx)
	if err != nil {
		return nil, err
	}
	var out []Attachment
	for _, a := range atts {
		if a.AppName == app {
			out = append(out, a)
		}
	}
	return out, nil
}

// Addon reads one add-on resource by id.
func (r *Registry) Addon(ctx context.Context, id string) (Addon, error) {
	rec, err := config.Load[Addon](ctx, r.Store, "", KindAddon, id)
	if err != nil {
		return Addon{}, fmt.Errorf("load add-on %s: %w", id, err)
	}
	return rec.Value, nil
}

// MarkGone flags an add-on resource as gone (its partner answered 410),
// re-reading it on version conflicts. A resource that no longer exists
// needs nothing.
func (r *Registry) MarkGone(ctx context.Context, id, reason string) error {
	_, err := config.Modify(ctx, r.Store, "", KindAddon, id, 5, func(rec *config.Record[Addon]) (bool, error) {
		if rec.Value.Gone {
			return false, nil
		}
		rec.Value.Gone, rec.Value.GoneReason = true, reason
		return true, nil
	})
	if err != nil && !errors.Is(err, config.ErrNotFound) {
		return fmt.Errorf("mark add-on %s gone: %w", id, err)
	}
	return nil
}

func (r *Registry) attachments(ctx context.Context) ([]Attachment, error) {
	recs, err := config.LoadAll[Attachment](ctx, r.Store, "", KindAttachment)
	if err != nil {
		return nil, fmt.Errorf("list attachments: %w", err)
	}
	out := make([]Attachment, 0, len(recs))
	for _, rec := range recs {
		out = append(out, rec.Value)
	}
	return out, nil
}

// target is one add-on resource on an app to notify.
type target struct {
	partner Partner
	addon   Addon
	att     Attachment // its first attachment on the app
}

// targets returns the add-on resources attached to the app of herokuID
// whose partner opted in to events of type typ and that are not gone, one
// per resource.
func (r *Registry) targets(ctx context.Context, herokuID, typ string) ([]target, error) {
	atts, err := r.attachments(ctx)
	if err != nil {
		return nil, err
	}
	partners := map[string]*Partner{}
	seen := map[string]bool{}
	var out []target
	for _, a := range atts {
		if a.HerokuID != herokuID || seen[a.Addon] {
			continue
		}
		seen[a.Addon] = true
		p, ok := partners[a.Partner]
		if !ok {
			v, err := r.Partner(ctx, a.Partner)
			switch {
			case errors.Is(err, config.ErrNotFound):
				p = nil
			case err != nil:
				return nil, err
			default:
				p = &v
			}
			partners[a.Partner] = p
		}
		if p == nil || !p.wants(typ) {
			continue
		}
		addon, err := config.Load[Addon](ctx, r.Store, "", KindAddon, a.Addon)
		if errors.Is(err, config.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("load add-on %s: %w", a.Addon, err)
		}
		if addon.Value.Gone {
			continue
		}
		out = append(out, target{partner: *p, addon: addon.Value, att: a})
	}
	return out, nil
}

// attachDetail is the detail of an attach or detach notification of the
// attachment att of addon, for partner p.
func attachDetail(p Partner, addon Addon, att Attachment) AttachDetail {
	d := AttachDetail{
		ID: att.ID, Name: att.Name,
		Resource: Ref{ID: addon.ID, Name: addon.Name},
		App:      Ref{ID: att.AppID, Name: att.AppName},
	}
	if p.LogToken {
		d.LogToken = att.LogToken
	}
	return d
}

// completeDetail completes a platform attach/detach detail for one target:
// the resource is the target's, log_token only for entitled partners, and
// the id, name and app the platform left out come from the attachment.
func completeDetail(raw json.RawMessage, t target) (AttachDetail, error) {
	var in struct {
		ID       *string `json:"id"`
		Name     *string `json:"name"`
		LogToken *string `json:"log_token"`
		App      *Ref    `json:"app"`
	}
	if err := json.Unmarshal(raw, &in); err != nil {
		return AttachDetail{}, invalid("detail of an attach or detach event: id, name, log_token must be strings and app an object {id, name}.")
	}
	d := attachDetail(t.partner, t.addon, t.att)
	if in.ID != nil && *in.ID != "" {
		d.ID = *in.ID
	}
	if in.Name != nil && *in.Name != "" {
		d.Name = *in.Name
	}
	if in.App != nil && in.App.ID != "" {
		d.App = *in.App
	}
	if t.partner.LogToken && in.LogToken != nil && *in.LogToken != "" {
		d.LogToken = *in.LogToken
	}
	return d, nil
}
