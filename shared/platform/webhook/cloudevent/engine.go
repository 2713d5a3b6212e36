package cloudevent

import (
	"context"
	"errors"

	"github.com/herokuevents/herokuevents/shared/platform"
)

// Engine is the webhook platform's engine: its Publisher, with the deliver
// role's client (Deps.Client), sealer and clock. Webhooks have no runner.
type Engine struct{}

var _ platform.Engine = Engine{}

// Publisher returns the webhook publisher of d.
func (Engine) Publisher(_ context.Context, d platform.Deps) (platform.Publisher, error) {
	if d.Client == nil {
		return nil, errors.New("webhook publisher: Deps.Client is required")
	}
	return &Publisher{Sealer: d.Sealer, Client: d.Client, Now: d.Now}, nil
}

// Run returns at once: a webhook publication is delivered, never run.
func (Engine) Run(context.Context, platform.Deps) error { return nil }
