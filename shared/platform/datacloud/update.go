package datacloud

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/httpjson"
	"github.com/herokuevents/herokuevents/shared/platform"
)

// validateUpdate changes a Data Cloud publication's connector, object and
// org_name, checked as at create.
func validateUpdate(ctx context.Context, d platform.Deps, tenant string, current config.Publication, body []byte) (config.Publication, map[string]any, error) {
	var req struct {
		platform.UpdateFields
		Connector *string `json:"connector"`
		Object    *string `json:"object"`
		OrgName   *string `json:"org_name"`
	}
	if err := httpjson.Decode(body, &req); err != nil {
		return config.Publication{}, nil, err
	}
	if req.Connector == nil && req.Object == nil && req.OrgName == nil {
		return current, nil, nil
	}
	create := map[string]string{"name": current.Name, "connector": current.Params.Connector,
		"object": current.Params.Object, "org_name": current.Params.OrgName}
	for field, v := range map[string]*string{"connector": req.Connector, "object": req.Object, "org_name": req.OrgName} {
		if v != nil {
			create[field] = *v
		}
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
	pub.Params.Connector, pub.Params.Object, pub.Params.OrgName = checked.Params.Connector, checked.Params.Object, checked.Params.OrgName
	return pub, nil, nil
}
