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
		{"verify refuses", operator.Credentials{ID: "op", PasswordHash: config.HashKey("pw"), Verify: func(string, string) bool { return false }}, "op", "pw", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.c.Check(tt.id, tt.pass))
		})
	}
}
