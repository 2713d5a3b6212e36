package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPublicationsWebhookCreateDeliveryFlags: --mode, --content-type and
// --skip-handshake reach the API as mode, content_type and
// skip_handshake (a boolean); bad values are refused before any request.
func TestPublicationsWebhookCreateDeliveryFlags(t *testing.T) {
	const created = `{"id":"p1","name":"hook","platform":"webhook","params":{"url":"https://example.com/hook","mode":"binary"},"sources":[],
		"extra":{"signing_secret":"whsec_c2VjcmV0"}}`
	tests := []struct {
		name     string
		args     []string
		wantBody string
		err      string
	}{
		{name: "binary", args: []string{"--mode", "binary"},
			wantBody: `{"name":"hook","url":"https://example.com/hook","mode":"binary"}`},
		{name: "legacy content type, no handshake", args: []string{"--content-type", "application/json", "--skip-handshake"},
			wantBody: `{"name":"hook","url":"https://example.com/hook","content_type":"application/json","skip_handshake":true}`},
		{name: "structured", args: []string{"--mode", "structured", "--content-type", "application/cloudevents+json"},
			wantBody: `{"name":"hook","url":"https://example.com/hook","mode":"structured","content_type":"application/cloudevents+json"}`},
		{name: "unknown mode", args: []string{"--mode", "batch"}, err: `--mode "batch": use structured or binary`},
		{name: "unknown content type", args: []string{"--content-type", "text/plain"}, err: `--content-type "text/plain": use application/cloudevents+json or application/json`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := newFakeAPI(t, map[string]reply{"POST /v1/tenants/t-123/platforms/webhook/publications": {201, created}})
			args := append([]string{"publications:webhook:create", "hook", "-u", "https://example.com/hook", "-a", testApp, "--api-url", api.url()}, tt.args...)
			r := run(t, nil, args...)
			reqs := api.requests()
			if tt.err != "" {
				require.Error(t, r.err)
				assert.Contains(t, r.err.Error(), tt.err)
				assert.Empty(t, reqs)
				return
			}
			require.NoError(t, r.err)
			require.Len(t, reqs, 1)
			assert.JSONEq(t, tt.wantBody, reqs[0].Body)
		})
	}
}
