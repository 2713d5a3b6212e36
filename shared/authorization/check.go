package authorization

import (
	"context"
	"errors"
	"fmt"

	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/name"
)

// CheckOrg checks the org_name of a new subscription or publication: a
// valid alias naming an authorization of tenant in store. Bad or unknown
// aliases are config.ErrInvalid problems telling how to create one; other
// errors are failures of the store.
func CheckOrg(ctx context.Context, store config.Store, tenant, alias string) error {
	if alias == "" {
		return config.Invalid("org_name is required: the alias of an authorization.")
	}
	if !name.IsAlias(alias) {
		return config.Invalid("org_name %q is not a valid authorization alias (letters, digits, '.', '_', '-').", alias)
	}
	_, err := store.Get(ctx, tenant, config.KindAuthorization, alias)
	switch {
	case errors.Is(err, config.ErrNotFound):
		return config.Invalid("org_name %s: no such authorization; create it first with authorizations:salesforce:create %s.", alias, alias)
	case err != nil:
		return fmt.Errorf("check authorization %s: %w", alias, err)
	}
	return nil
}
