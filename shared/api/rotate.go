package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/herokuevents/herokuevents/shared/config"
)

// rotateView is the answer of a credential rotation.
type rotateView struct {
	Config  map[string]string `json:"config"`
	Message string            `json:"message"`
}

// RotateCredentials issues new API and publish keys for tenant t: the old
// ones stop working at once. The new config vars are kept sealed (a
// repeated provision answers them) and, for a tenant Heroku provisioned,
// pushed to the app with Options.PushConfig (PATCH /addons/{uuid}/config).
// It returns the new config vars and what became of the push.
func (s *Server) RotateCredentials(ctx context.Context, t config.Tenant) (map[string]string, string, error) {
	apiKey, err := randomKey()
	if err != nil {
		return nil, "", err
	}
	publishKey, err := randomKey()
	if err != nil {
		return nil, "", err
	}
	cfg := s.configVars(t.ID, apiKey, publishKey)
	var sealed []byte
	if s.sealer != nil {
		raw, err := json.Marshal(cfg)
		if err != nil {
			return nil, "", fmt.Errorf("encode config: %w", err)
		}
		if sealed, err = s.sealer.Seal(ctx, raw); err != nil {
			return nil, "", fmt.Errorf("seal config: %w", err)
		}
	}
	rec, err := config.Modify(ctx, s.store, "", config.KindTenant, t.ID, 5, func(r *config.Record[config.Tenant]) (bool, error) {
		r.Value.APIKeyHash, r.Value.PublishKeyHash, r.Value.ConfigSealed = HashKey(apiKey), HashKey(publishKey), sealed
		return true, nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("rotate credentials: %w", err)
	}
	msg := "New credentials: set these config vars on the app."
	if rec.Value.HerokuID != "" && s.pushConfig != nil {
		if err := s.pushConfig(ctx, t.ID, cfg); err != nil {
			s.log.WarnContext(ctx, "heroku config push failed", "tenant", t.ID, "err", err)
			msg = "New credentials; updating the app's config vars on Heroku failed (" + err.Error() + "): set them yourself."
		} else {
			msg = "New credentials; the app's config vars on Heroku are updated (the app restarts)."
		}
	}
	s.log.InfoContext(ctx, "tenant credentials rotated", "tenant", t.ID, "heroku", rec.Value.HerokuID != "" && s.pushConfig != nil)
	return cfg, msg, nil
}

func (s *Server) rotateCredentials(ctx context.Context, t config.Tenant, _ *http.Request, _ []byte) (int, any, error) {
	cfg, msg, err := s.RotateCredentials(ctx, t)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, rotateView{Config: cfg, Message: msg}, nil
}
