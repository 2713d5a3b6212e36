package datacloud

import (
	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/platform"
)

// validateUpdate changes a Data Cloud publication's connector, object and
// org_name, checked as at create.
var validateUpdate = platform.UpdateAsCreate(validatePublication,
	platform.Param{Field: "connector", Of: func(p *config.Params) *string { return &p.Connector }},
	platform.Param{Field: "object", Of: func(p *config.Params) *string { return &p.Object }},
	platform.Param{Field: "org_name", Of: func(p *config.Params) *string { return &p.OrgName }},
)
