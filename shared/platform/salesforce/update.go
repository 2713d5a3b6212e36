package salesforce

import (
	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/platform"
)

// validateUpdate changes a Salesforce publication's event and org_name,
// checked as at create (the topic's kind, the authorization of the org).
var validateUpdate = platform.UpdateAsCreate(validatePublication,
	platform.Param{Field: "event", Of: func(p *config.Params) *string { return &p.Event }},
	platform.Param{Field: "org_name", Of: func(p *config.Params) *string { return &p.OrgName }},
)
