// Package catalog lists every platform of herokuevents: adding a platform
// is one package under shared/platform and one line here. Both modes hand
// this list to platform.NewRegistry; the CLI renders its create commands.
package catalog

import (
	"github.com/herokuevents/herokuevents/shared/platform"
	"github.com/herokuevents/herokuevents/shared/platform/datacloud"
	"github.com/herokuevents/herokuevents/shared/platform/generate"
	"github.com/herokuevents/herokuevents/shared/platform/salesforce"
	"github.com/herokuevents/herokuevents/shared/platform/webhook"
)

// All returns every platform, in the order the CLI lists them.
func All() []platform.Platform {
	return []platform.Platform{
		webhook.Platform(),
		generate.Platform(),
		salesforce.Platform(),
		datacloud.Platform(),
	}
}
