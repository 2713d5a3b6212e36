package platform_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/platform"
)

// updateAsCreate is an UpdateAsCreate of event and org_name whose create
// validator refuses an empty event and records the bodies it is given.
func updateAsCreate(bodies *[]map[string]string) func(ctx context.Context, d platform.Deps, tenant string, current config.Publication, body []byte) (config.Publication, map[string]any, error) {
	validate := func(_ context.Context, _ platform.Deps, _ string, body []byte) (config.Publication, map[string]any, error) {
		var create map[string]string
		if err := json.Unmarshal(body, &create); err != nil {
			return config.Publication{}, nil, err
		}
		*bodies = append(*bodies, create)
		if create["event"] == "" {
			return config.Publication{}, nil, config.Invalid("event is required.")
		}
		return config.Publication{Name: create["name"], Params: config.Params{Event: create["event"] + "!", OrgName: create["org_name"], Object: "ignored"}}, map[string]any{"ignored": true}, nil
	}
	return platform.UpdateAsCreate(validate,
		platform.Param{Field: "event", Of: func(p *config.Params) *string { return &p.Event }},
		platform.Param{Field: "org_name", Of: func(p *config.Params) *string { return &p.OrgName }},
	)
}

// TestUpdateAsCreate: the params given go through the create validator over
// the current ones and the name; its params replace current's, nothing
// else does; a body without params calls nothing; anything else in the
// body is refused as httpjson.Decode refuses it.
func TestUpdateAsCreate(t *testing.T) {
	current := config.Publication{ID: "p1", Name: "orders", Params: config.Params{Event: "a", OrgName: "org", Object: "kept"}, Rate: 3}
	tests := []struct {
		body   string
		want   config.Params
		create map[string]string
		err    string
	}{
		{body: `{"event":"b"}`, want: config.Params{Event: "b!", OrgName: "org", Object: "kept"},
			create: map[string]string{"name": "orders", "event": "b", "org_name": "org"}},
		{body: `{"org_name":"other","rate":2}`, want: config.Params{Event: "a!", OrgName: "other", Object: "kept"},
			create: map[string]string{"name": "orders", "event": "a", "org_name": "other"}},
		{body: `{"timeout":"5s"}`, want: current.Params},
		{body: `{}`, want: current.Params},
		{body: `{"event":""}`, err: "event is required.",
			create: map[string]string{"name": "orders", "event": "", "org_name": "org"}},
		{body: `{"object":"x"}`, err: `Unknown field "object".`},
		{body: `{"event":3}`, err: `Field "event" must be a string.`},
		{body: `{"rate":"fast"}`, err: `must be a number.`},
		{body: `[]`, err: "JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.body, func(t *testing.T) {
			var bodies []map[string]string
			pub, extra, err := updateAsCreate(&bodies)(t.Context(), platform.Deps{}, "t1", current, []byte(tt.body))
			if tt.create != nil {
				assert.Equal(t, []map[string]string{tt.create}, bodies)
			} else {
				assert.Empty(t, bodies, "no param given: no create check")
			}
			if tt.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.err)
				return
			}
			require.NoError(t, err)
			assert.Nil(t, extra)
			assert.Equal(t, tt.want, pub.Params)
			assert.Equal(t, "p1", pub.ID)
			assert.Equal(t, 3.0, pub.Rate, "delivery settings are the api's")
		})
	}
}

// FuzzUpdateAsCreate: any body is refused or gives current with at most
// its params changed, never a panic.
func FuzzUpdateAsCreate(f *testing.F) {
	for _, s := range []string{`{"event":"b"}`, `{"org_name":null,"max_attempts":2}`, `{"event":1}`, `{"x":1}`, `{}`, `[`, ``} {
		f.Add([]byte(s))
	}
	current := config.Publication{ID: "p1", Name: "orders", Params: config.Params{Event: "a", OrgName: "org", Object: "kept"}}
	f.Fuzz(func(t *testing.T, body []byte) {
		var bodies []map[string]string
		pub, _, err := updateAsCreate(&bodies)(t.Context(), platform.Deps{}, "t1", current, body)
		if err != nil {
			return
		}
		assert.Equal(t, "p1", pub.ID)
		assert.Equal(t, "kept", pub.Params.Object)
	})
}
