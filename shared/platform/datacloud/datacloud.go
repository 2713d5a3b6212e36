// Package datacloud is the "datacloud" platform: publications that send
// each event as one record to a Data Cloud Ingestion API object of an
// authorized org, and subscriptions that are data action webhook targets
// of an org's Data Cloud (subscription.go).
package datacloud

import (
	"context"
	"errors"

	"github.com/herokuevents/herokuevents/shared/authorization"
	"github.com/herokuevents/herokuevents/shared/config"
	dc "github.com/herokuevents/herokuevents/shared/datacloud"
	"github.com/herokuevents/herokuevents/shared/httpjson"
	"github.com/herokuevents/herokuevents/shared/platform"
)

// Platform returns the datacloud platform.
func Platform() platform.Platform {
	return platform.Platform{
		Name:         config.PlatformDataCloud,
		Subscription: source(),
		Publication: &platform.Target{
			Validate:  validatePublication,
			Publisher: newPublisher,
			Update:    validateUpdate,
			Command: platform.Command{
				Short: "Send events as records to a Data Cloud Ingestion API object of an authorized org",
				Long: `Send each event as one record to the object OBJECT of the Data Cloud Ingestion API source (connector)
CONNECTOR, in the org authorized as ALIAS (authorizations:salesforce:create; its connected app needs the
cdp_ingest_api scope). Event data is the record: a JSON object carrying every field of the object's schema
(use "" or null for none); Avro JSON unions ({"string": "x"}) are unwrapped. Data Cloud applies accepted
records within minutes, at least once.`,
				Example: `  herokuevents publications:datacloud:create highPriorityOrders -c salesConnector --object HighPriorityOrder -A my-org -a my-app
  curl -X POST "$HEROKUEVENTS_PUBLISH_URL/highPriorityOrders" -H 'Content-Type: application/json' \
    -d '{"OrderId": "801xx0000001", "TotalValue": 150000, "Status": "New"}'`,
				Flags: []platform.Flag{
					{Name: "connector", Shorthand: "c", Usage: "Ingestion API source (connector) name (required)", Required: true,
						Check: platform.Pattern(dc.NamePattern, "--connector %q: use the Ingestion API source name (letters, digits, '_')")},
					{Name: "object", Usage: "object of the source's schema (required)", Required: true,
						Check: platform.Pattern(dc.NamePattern, "--object %q: use an object name of the source's schema (letters, digits, '_')")},
					{Name: "org-alias", Shorthand: "A", Field: "org_name", Usage: "alias of the authorization of the org (required)", Required: true},
					{Name: "org-name", Shorthand: "o", Field: "org_name", Usage: "same as --org-alias (v0.0.1 name)", AliasOf: "org-alias"},
				},
				Link: platform.LinkFlags{End: "s", Filter: "f"},
			},
		},
	}
}

// validatePublication: {name, connector, object, org_name, source?,
// filter?}. connector is the Ingestion API source name and object an object
// of its schema.
func validatePublication(ctx context.Context, d platform.Deps, tenant string, body []byte) (config.Publication, map[string]any, error) {
	var req struct {
		platform.PublicationFields
		Connector string `json:"connector"`
		Object    string `json:"object"`
		OrgName   string `json:"org_name"`
	}
	if err := httpjson.Decode(body, &req); err != nil {
		return config.Publication{}, nil, err
	}
	switch {
	case req.Connector == "":
		return config.Publication{}, nil, config.Invalid("connector is required: the name of a Data Cloud Ingestion API source.")
	case !dc.ValidName(req.Connector):
		return config.Publication{}, nil, config.Invalid("connector %q is not an Ingestion API source name (a letter, then letters, digits, '_').", req.Connector)
	case req.Object == "":
		return config.Publication{}, nil, config.Invalid("object is required: an object of the Ingestion API source's schema.")
	case !dc.ValidName(req.Object):
		return config.Publication{}, nil, config.Invalid("object %q is not an Ingestion API object name (a letter, then letters, digits, '_').", req.Object)
	}
	if err := authorization.CheckOrg(ctx, d.Store, tenant, req.OrgName); err != nil {
		return config.Publication{}, nil, err
	}
	return config.Publication{Params: config.Params{Connector: req.Connector, Object: req.Object, OrgName: req.OrgName}}, nil, nil
}

// newPublisher sends through the deliver role's egress-guarded client (a
// loopback stand-in needs an egress allow-list); Data Cloud tokens are
// exchanged from the authorization's core session.
func newPublisher(_ context.Context, d platform.Deps) (platform.Publisher, error) {
	if d.Authorizations == nil || d.Client == nil {
		return nil, errors.New("datacloud publisher: Deps.Authorizations and Client are required")
	}
	return &dc.Publisher{
		Client:   d.Client,
		Sessions: dc.AuthorizationSessions(d.Authorizations),
		Logger:   d.Log().With("role", "deliver"),
	}, nil
}
