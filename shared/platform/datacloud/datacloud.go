package datacloud

import (
	"context"
	"errors"
	"fmt"
	"regexp"

	"github.com/herokuevents/herokuevents/shared/api"
	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/sfsub"
)

var aliasPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// Platform builds the api role's "datacloud" publications.
type Platform struct {
	// Authorized checks that org_name names an authorization of the tenant
	// (sfsub.StoreAuthorizationCheck). It runs when the request context
	// carries the tenant (api.TenantFrom); nil skips the check. Either way
	// the publisher dead-letters deliveries of a missing authorization.
	Authorized sfsub.AuthorizationCheck
}

// Publication is the api.PublicationPlatform of Data Cloud:
// {name, connector, object, org_name, source?, filter?}. connector is the
// Ingestion API source name and object an object of its schema.
func (p Platform) Publication(ctx context.Context, body []byte) (config.Publication, map[string]any, error) {
	var req struct {
		api.PublicationFields
		Connector string `json:"connector"`
		Object    string `json:"object"`
		OrgName   string `json:"org_name"`
	}
	if err := api.DecodeJSON(body, &req); err != nil {
		return config.Publication{}, nil, err
	}
	switch {
	case req.Connector == "":
		return config.Publication{}, nil, api.Invalid("connector is required: the name of a Data Cloud Ingestion API source.")
	case !ValidName(req.Connector):
		return config.Publication{}, nil, api.Invalid("connector %q is not an Ingestion API source name (a letter, then letters, digits, '_').", req.Connector)
	case req.Object == "":
		return config.Publication{}, nil, api.Invalid("object is required: an object of the Ingestion API source's schema.")
	case !ValidName(req.Object):
		return config.Publication{}, nil, api.Invalid("object %q is not an Ingestion API object name (a letter, then letters, digits, '_').", req.Object)
	case req.OrgName == "":
		return config.Publication{}, nil, api.Invalid("org_name is required: the alias of an authorization.")
	case !aliasPattern.MatchString(req.OrgName):
		return config.Publication{}, nil, api.Invalid("org_name %q is not a valid authorization alias (letters, digits, '.', '_', '-').", req.OrgName)
	}
	if tenant, ok := api.TenantFrom(ctx); ok && p.Authorized != nil {
		err := p.Authorized(ctx, tenant, req.OrgName)
		switch {
		case errors.Is(err, sfsub.ErrNoAuthorization):
			return config.Publication{}, nil, api.Invalid("org_name %s: no such authorization; create it first with authorizations:salesforce:create %s.", req.OrgName, req.OrgName)
		case err != nil:
			return config.Publication{}, nil, fmt.Errorf("check authorization %s: %w", req.OrgName, err)
		}
	}
	return config.Publication{Params: config.Params{Connector: req.Connector, Object: req.Object, OrgName: req.OrgName}}, nil, nil
}
