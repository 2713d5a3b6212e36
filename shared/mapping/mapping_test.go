package mapping

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCompileRejectsHostAccess(t *testing.T) {
	for _, src := range []string{
		`root = env("AWS_SECRET_ACCESS_KEY")`,
		`root = file("/etc/passwd")`,
		`root = hostname()`,
		`root = this.`,
		``,
	} {
		t.Run(src, func(t *testing.T) {
			_, err := Compile(src)
			require.ErrorIs(t, err, ErrCompile)
		})
	}
}

func TestApply(t *testing.T) {
	const filter = `root = if this.Context__c.string == "drop" { deleted() } else { this }`
	cases := []struct {
		name, src, in, want string
		deleted             bool
	}{
		{"pass keeps bytes", filter, `{"Context__c":{"string":"x"},  "CreatedDate":1733842936000, "Big":1736877279422521345}`, `{"Context__c":{"string":"x"},  "CreatedDate":1733842936000, "Big":1736877279422521345}`, false},
		{"drop", filter, `{"Context__c":{"string":"drop"}}`, "", true},
		{"transform", `root.total = this.a + this.b`, `{"a":1,"b":2}`, `{"total":3}`, false},
		{"numbers compare", `root = if this.Order.TotalValue >= 100000 { this } else { deleted() }`, `{"Order":{"TotalValue":99999}}`, "", true},
		{"generate without input", `root = {"status": "up"}`, ``, `{"status":"up"}`, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := Compile(c.src)
			require.NoError(t, err)
			out, deleted, err := m.Apply([]byte(c.in))
			require.NoError(t, err)
			assert.Equal(t, c.deleted, deleted)
			if !c.deleted {
				assert.Equal(t, c.want, string(out))
			}
		})
	}
}

func TestApplyMeta(t *testing.T) {
	meta := map[string]any{"subject": "/data/AccountChangeEvent", "changedfields": []any{"Name", "Industry"}}
	cases := []struct {
		name, src, in, want string
		deleted             bool
	}{
		{"filter on changed fields keeps bytes", `root = if this._herokuevents.changedfields.contains("Name") { this } else { deleted() }`,
			`{"Name": {"string":"Acme"}}`, `{"Name": {"string":"Acme"}}`, false},
		{"drop on changed fields", `root = if this._herokuevents.changedfields.contains("Phone") { this } else { deleted() }`,
			`{"Name":{"string":"Acme"}}`, "", true},
		{"meta never reaches the result", `root = this.without("Name")`, `{"Name":1,"Other":2}`, `{"Other":2}`, false},
		{"meta copied on purpose stays", `root.channel = this._herokuevents.subject`, `{"a":1}`, `{"channel":"/data/AccountChangeEvent"}`, false},
		{"a user field of that name wins", `root = this`, `{"_herokuevents":"mine"}`, `{"_herokuevents":"mine"}`, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := Compile(c.src)
			require.NoError(t, err)
			out, deleted, err := m.ApplyMeta([]byte(c.in), meta)
			require.NoError(t, err)
			assert.Equal(t, c.deleted, deleted)
			if !c.deleted {
				assert.Equal(t, c.want, string(out))
			}
		})
	}
}
