package salesforce

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/httpjson"
	"github.com/herokuevents/herokuevents/shared/platform"
)

// validateUpdate changes a Salesforce publication's event and org_name,
// checked as at create (the topic's kind, the authorization of the org).
func validateUpdate(ctx context.Context, d platform.Deps, tenant string, current config.Publication, body []byte) (config.Publication, map[string]any, error) {
	var req struct {
		platform.UpdateFields
		Event   *string `json:"event"`
		OrgName *string `json:"org_name"`
	}
	if err := httpjson.Decode(body, &req); err != nil {
		return config.Publication{}, nil, err
	}
	if req.Event == nil && req.OrgName == nil {
		return current, nil, nil
	}
	create := map[string]string{"name": current.Name, "event": current.Params.Event, "org_name": current.Params.OrgName}
	if req.Event != nil {
		create["event"] = *req.Event
	}
	if req.OrgName != nil {
		create["org_name"] = *req.OrgName
	}
	b, err := json.Marshal(create)
	if err != nil {
		return config.Publication{}, nil, fmt.Errorf("encode update: %w", err)
	}
	checked, _, err := validatePublication(ctx, d, tenant, b)
	if err != nil {
		return config.Publication{}, nil, err
	}
	pub := current
	pub.Params.Event, pub.Params.OrgName = checked.Params.Event, checked.Params.OrgName
	return pub, nil, nil
}
