package api_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/config"
)

func TestOrderedPublication(t *testing.T) {
	tests := []struct {
		name     string
		create   string // extra fields of the create body
		update   string // an update body after it ("" none)
		status   int    // of the last request
		want     *config.Order
		errorsOn string // the message contains
	}{
		{name: "default key", create: `"ordered":true`, status: http.StatusCreated, want: &config.Order{OnFailure: "skip"}},
		{name: "expression and block", create: `"ordered_by":"this.order.id","on_failure":"block"`, status: http.StatusCreated,
			want: &config.Order{By: "this.order.id", OnFailure: "block"}},
		{name: "unordered by default", status: http.StatusCreated},
		{name: "bad expression", create: `"ordered_by":"this.order.("`, status: http.StatusUnprocessableEntity, errorsOn: "ordered_by"},
		{name: "bad on_failure", create: `"ordered":true,"on_failure":"retry"`, status: http.StatusUnprocessableEntity, errorsOn: "on_failure"},
		{name: "on_failure alone", create: `"on_failure":"block"`, status: http.StatusUnprocessableEntity, errorsOn: "ordered"},
		{name: "update: make ordered", update: `{"ordered_by":"this.id"}`, status: http.StatusOK, want: &config.Order{By: "this.id", OnFailure: "skip"}},
		{name: "update: block", create: `"ordered":true`, update: `{"on_failure":"block"}`, status: http.StatusOK, want: &config.Order{OnFailure: "block"}},
		{name: "update: unordered again", create: `"ordered":true`, update: `{"ordered":false}`, status: http.StatusOK},
		{name: "update: bad expression changes nothing", create: `"ordered":true`, update: `{"ordered_by":"this.("}`, status: http.StatusUnprocessableEntity,
			want: &config.Order{OnFailure: "skip"}, errorsOn: "ordered_by"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			body := `{"name":"hook","url":"https://example.com/hook","skip_handshake":true`
			if tc.create != "" {
				body += "," + tc.create
			}
			r := h.as(h.a, http.MethodPost, "/platforms/webhook/publications", body+"}")
			if tc.update != "" {
				require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
				r = h.as(h.a, http.MethodPatch, "/publications/hook", tc.update)
			}
			require.Equal(t, tc.status, r.Status, "%s", r.Body)
			if tc.errorsOn != "" {
				_, msg := r.errBody(t)
				assert.Contains(t, msg, tc.errorsOn)
			}
			if r.Status >= 300 && tc.update == "" {
				return
			}
			assert.Equal(t, tc.want, h.storedPublication(h.a, "hook").Order)
			if r.Status < 300 {
				v := r.object(t)
				if tc.want == nil {
					assert.Nil(t, v["order"])
				} else {
					assert.Equal(t, tc.want.OnFailure, v["order"].(map[string]any)["on_failure"])
				}
			}
		})
	}
}
