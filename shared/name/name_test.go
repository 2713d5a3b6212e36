package name_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/name"
)

func TestApp(t *testing.T) {
	for _, ok := range []string{"my-app", "a1", "app-" + strings.Repeat("x", 26)} {
		assert.True(t, name.IsApp(ok), ok)
		assert.NoError(t, name.CheckApp(ok), ok)
	}
	for _, bad := range []string{"", "a", "My-App", "1app", "my_app", "my app", "app-" + strings.Repeat("x", 27)} {
		assert.False(t, name.IsApp(bad), bad)
		err := name.CheckApp(bad)
		assert.True(t, errors.Is(err, config.ErrInvalid), bad)
		assert.Contains(t, err.Error(), "App name")
		assert.Contains(t, err.Error(), name.AppRule)
	}
}

func TestAlias(t *testing.T) {
	for _, ok := range []string{"my-org", "Org.Prod_2", "a", "a" + strings.Repeat("b", 63)} {
		assert.True(t, name.IsAlias(ok), ok)
		assert.NoError(t, name.CheckAlias("alias", ok), ok)
	}
	for _, tc := range []struct{ alias, msg string }{
		{"", "alias is required."},
		{"1org", `alias "1org" is invalid: ` + name.AliasRule},
		{"my org", "is invalid"},
		{"a" + strings.Repeat("b", 64), "is invalid"},
		{"c0ffee00-0000-4000-8000-000000000000", "must not look like an id"},
	} {
		assert.False(t, name.IsAlias(tc.alias), tc.alias)
		err := name.CheckAlias("alias", tc.alias)
		assert.True(t, errors.Is(err, config.ErrInvalid), tc.alias)
		assert.Contains(t, err.Error(), tc.msg)
	}
}
