package operator_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/operator"
)

func TestCheck(t *testing.T) {
	tests := []struct {
		name     string
		c        operator.Credentials
		id, pass string
		want     bool
	}{
		{"right", operator.New("op", "pw"), "op", "pw", true},
		{"wrong password", operator.New("op", "pw"), "op", "nope", false},
		{"wrong id", operator.New("op", "pw"), "other", "pw", false},
		{"upper-case hash", operator.Credentials{ID: "op", PasswordHash: strings.ToUpper(config.HashKey("pw"))}, "op", "pw", true},
		{"none configured", operator.Credentials{}, "", "", false},
		{"no hash", operator.Credentials{ID: "op"}, "op", "", false},
		{"verify accepts", operator.Credentials{Verify: func(id, p string) bool { return id == "op" && p == "pw" }}, "op", "pw", true},
		{"lazy right", operator.Lazy("op", func() string { return "pw" }), "op", "pw", true},
		{"lazy wrong password", operator.Lazy("op", func() string { return "pw" }), "op", "nope", false},
		{"lazy wrong id", operator.Lazy("op", func() string { return "pw" }), "other", "pw", false},
		{"lazy password not resolved", operator.Lazy("op", func() string { return "" }), "op", "", false},
		{"verify refuses", operator.Credentials{ID: "op", PasswordHash: config.HashKey("pw"), Verify: func(string, string) bool { return false }}, "op", "pw", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.c.Check(tt.id, tt.pass))
		})
	}
}

// Lazy reads the password at each check: a rotated password is the one
// checked, and nothing is read before the first request.
func TestLazyReadsThePasswordAtEachCheck(t *testing.T) {
	reads, password := 0, "first"
	c := operator.Lazy("op", func() string { reads++; return password })
	assert.Equal(t, 0, reads, "read at construction")
	assert.True(t, c.Check("op", "first"))
	password = "second"
	assert.False(t, c.Check("op", "first"))
	assert.True(t, c.Check("op", "second"))
	assert.Equal(t, 3, reads)
}
