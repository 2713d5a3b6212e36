package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTitleKey(t *testing.T) {
	for in, want := range map[string]string{
		"org_name":        "Org Name",
		"url":             "Url",
		"event":           "Event",
		"last_error_code": "Last Error_code",
		"":                "",
	} {
		t.Run(in, func(t *testing.T) { assert.Equal(t, want, titleKey(in)) })
	}
}

func TestParamsDetails(t *testing.T) {
	tests := []struct{ name, json, want string }{
		{"salesforce keeps API order", `{"event":"/data/AccountChange","org_name":"fake-sfdc-org"}`,
			"Event: /data/AccountChange, Org Name: fake-sfdc-org"},
		{"order is not sorted", `{"url":"https://x/y","connector":"c"}`, "Url: https://x/y, Connector: c"},
		{"null and empty dropped", `{"event":"e","org_name":null,"url":""}`, "Event: e"},
		{"numbers and objects as JSON", `{"n":3,"flag":true,"obj":{"a": [1, 2]}}`, `N: 3, Flag: true, Obj: {"a":[1,2]}`},
		{"null params", `null`, ""},
		{"empty params", `{}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p params
			require.NoError(t, json.Unmarshal([]byte(tt.json), &p))
			assert.Equal(t, tt.want, p.details())
		})
	}
	t.Run("not an object", func(t *testing.T) {
		var p params
		assert.Error(t, json.Unmarshal([]byte(`[1]`), &p))
	})
}

func TestPrintTable(t *testing.T) {
	var buf bytes.Buffer
	printTable(&buf, []string{"Name", "Platform", "Details"}, [][]string{
		{"statusGen", "generate", "Interval: 1m"},
		{"a", "webhook", ""},
	})
	want := "" +
		" Name      Platform Details\n" +
		" ───────── ──────── ────────────\n" +
		" statusGen generate Interval: 1m\n" +
		" a         webhook\n"
	assert.Equal(t, want, buf.String())
}

// rule is the rule line of a table with columns of the given widths.
func rule(widths ...int) string {
	cols := make([]string, len(widths))
	for i, w := range widths {
		cols[i] = strings.Repeat("─", w)
	}
	return strings.Join(cols, " ")
}

func TestPrintFields(t *testing.T) {
	var buf bytes.Buffer
	printFields(&buf, []field{
		{Key: "Platform", Values: []string{"webhook"}},
		{Key: "Id", Values: []string{"42"}},
		{Key: "Sources", Values: []string{"one", "two"}},
		{Key: "Empty"},
	})
	want := "" +
		"Id:       42\n" +
		"Platform: webhook\n" +
		"Sources:  one\n" +
		"          two\n"
	assert.Equal(t, want, buf.String())
}

func TestPrintJSON(t *testing.T) {
	for in, want := range map[string]string{
		`[{"b":1,"a":2}]`: "[\n  {\n    \"b\": 1,\n    \"a\": 2\n  }\n]\n",
		`null`:            "[]\n",
		``:                "[]\n",
	} {
		var buf bytes.Buffer
		require.NoError(t, printJSON(&buf, []byte(in)))
		assert.Equal(t, want, buf.String())
	}
}

func TestAction(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, action(&buf, "Linking a to b", func() error { return nil }))
	boom := errors.New("boom")
	require.ErrorIs(t, action(&buf, "Linking c to d", func() error { return boom }), boom)
	assert.Equal(t, "Linking a to b... done\nLinking c to d... !\n", buf.String())
}
