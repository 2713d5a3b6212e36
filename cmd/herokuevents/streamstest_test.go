package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const streamTestAnswer = `{"source":"orders","target":"audit","filter":"root = this","total":5,"kept":1,"transformed":1,"dropped":1,"errors":1,"skipped":1,
	"events":[
	{"id":"ev-1","type":"t","time":"2026-01-02T03:04:05Z","result":"kept","data":{"n":1}},
	{"id":"ev-2","type":"t","time":"2026-01-02T03:04:06Z","result":"dropped","data":{"n":2}},
	{"id":"ev-3","type":"t","time":"2026-01-02T03:04:07Z","result":"transformed","data":{"n":3},"output":{"n":3,"big":true}},
	{"id":"ev-4","type":"t","result":"error","data":{"n":4},"error":"run mapping: no fours"},
	{"id":"ev-5","type":"t","time":"2026-01-02T03:04:09Z","result":"skipped","error":"The event's data (70000 bytes) was too large to be kept for tests."}]}`

func TestStreamsTest(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		rep      reply
		wantBody string
		stdout   string
		err      string
	}{
		{name: "the stream's filter", args: []string{"orders", "audit"}, rep: reply{200, streamTestAnswer},
			wantBody: `{"source":"orders","target":"audit","limit":20}`,
			stdout: "" +
				" Event Time                 Result      Output / error\n" +
				" " + rule(5, 20, 11, 66) + "\n" +
				" ev-1  2026-01-02T03:04:05Z KEPT\n" +
				" ev-2  2026-01-02T03:04:06Z DROPPED\n" +
				" ev-3  2026-01-02T03:04:07Z TRANSFORMED {\"n\":3,\"big\":true}\n" +
				" ev-4                       ERROR       run mapping: no fours\n" +
				" ev-5  2026-01-02T03:04:09Z SKIPPED     The event's data (70000 bytes) was too large to be kept for tests.\n" +
				"\n" +
				"1 kept, 1 transformed, 1 dropped, 1 error, 1 skipped of 5 events\n"},
		{name: "a new filter, no target, -n", args: []string{"orders", "-f", "root = this", "-n", "3"},
			rep:      reply{200, `{"source":"orders","filter":"root = this","total":2,"kept":1,"dropped":1,"events":[{"id":"a","result":"kept"},{"id":"b","result":"dropped"}]}`},
			wantBody: `{"source":"orders","filter":"root = this","limit":3}`,
			stdout: "" +
				" Event Time Result  Output / error\n" +
				" " + rule(5, 4, 7, 14) + "\n" +
				" a          KEPT\n" +
				" b          DROPPED\n" +
				"\n" +
				"1 kept, 1 dropped of 2 events\n"},
		{name: "no events", args: []string{"orders", "audit", "--filter", "root = this"},
			rep:      reply{200, `{"source":"orders","target":"audit","total":0,"events":[]}`},
			wantBody: `{"source":"orders","target":"audit","filter":"root = this","limit":20}`,
			stdout:   "No recent events of subscription orders to test: events are kept as they arrive.\n"},
		{name: "json", args: []string{"orders", "audit", "--json"},
			rep:      reply{200, `{"source":"orders","total":0,"events":[]}`},
			wantBody: `{"source":"orders","target":"audit","limit":20}`,
			stdout:   "{\n  \"source\": \"orders\",\n  \"total\": 0,\n  \"events\": []\n}\n"},
		{name: "api error", args: []string{"orders", "-f", "root = ("},
			rep:      reply{422, `{"id":"invalid_params","message":"filter: invalid Bloblang: expected expression"}`},
			wantBody: `{"source":"orders","filter":"root = (","limit":20}`,
			err:      "filter: invalid Bloblang: expected expression"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := newFakeAPI(t, map[string]reply{"POST /v1/tenants/t-123/streams/test": tt.rep})
			r := run(t, nil, append([]string{"streams:test", "-a", testApp, "--api-url", api.url()}, tt.args...)...)
			if tt.err != "" {
				require.Error(t, r.err)
				assert.Equal(t, tt.err, r.err.Error())
			} else {
				require.NoError(t, r.err)
			}
			assert.Equal(t, tt.stdout, r.stdout)
			var posts []request
			for _, q := range api.requests() {
				if q.Method == http.MethodPost {
					posts = append(posts, q)
				}
			}
			require.Len(t, posts, 1)
			assert.JSONEq(t, tt.wantBody, posts[0].Body)
		})
	}
}

func TestStreamsTestRefusedBeforeAnyCall(t *testing.T) {
	tests := []struct {
		name string
		args []string
		err  string
	}{
		{"neither target nor filter", []string{"orders"}, "give TARGET (to test the filter of the stream SOURCE → TARGET) or a filter with -f"},
		{"blank filter", []string{"orders", "-f", " "}, "give TARGET"},
		{"n too large", []string{"orders", "audit", "-n", "101"}, "-n must be from 1 to 100"},
		{"n zero", []string{"orders", "audit", "-n", "0"}, "-n must be from 1 to 100"},
		{"too many args", []string{"orders", "audit", "extra"}, "accepts between 1 and 2 arg(s)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := newFakeAPI(t, nil)
			r := run(t, nil, append([]string{"events:streams:test", "-a", testApp, "--api-url", api.url()}, tt.args...)...)
			require.Error(t, r.err)
			assert.True(t, strings.Contains(r.err.Error(), tt.err), "%q does not contain %q", r.err, tt.err)
			assert.Empty(t, api.requests())
		})
	}
}
