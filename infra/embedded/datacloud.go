package embedded

import (
	"context"

	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/datacloud"
	"github.com/herokuevents/herokuevents/shared/sfsub"
)

func init() { Register(wireDataCloud) }

// wireDataCloud adds the "datacloud" publication platform and its publisher
// to the deliver role. Data Cloud tokens are exchanged from the
// authorization's core session through the egress-guarded client (a
// loopback stand-in needs --allow-egress).
func wireDataCloud(_ context.Context, e *Env) error {
	e.PublicationPlatforms[config.PlatformDataCloud] = datacloud.Platform{Authorized: sfsub.StoreAuthorizationCheck(e.Store)}.Publication
	e.Publishers[config.PlatformDataCloud] = &datacloud.Publisher{
		Client:   e.Egress.Client(e.DeliveryTimeout),
		Sessions: datacloud.AuthorizationSessions(e.Authorizations),
		Logger:   e.Logger.With("role", "deliver"),
	}
	return nil
}
