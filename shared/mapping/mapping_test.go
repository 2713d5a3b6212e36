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
