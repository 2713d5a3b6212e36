package platform

import (
	"regexp"
	"strings"
	"testing"
)

// validName is the rule `^[a-z][a-z0-9]{1,29}$`, written as a loop.
func TestValidName(t *testing.T) {
	rule := regexp.MustCompile(`^[a-z][a-z0-9]{1,29}$`)
	names := []string{"", "a", "ab", "a1", "1a", "webhook", "datacloud", "Webhook", "web-hook", "web_hook", "wébhook",
		"a" + strings.Repeat("b", 29), "a" + strings.Repeat("b", 30), "a\n", "ab\x00", "z9", "{a", "a{", "`a", "a/", "a:"}
	for _, n := range names {
		if got, want := validName(n), rule.MatchString(n); got != want {
			t.Errorf("validName(%q) = %v, the rule says %v", n, got, want)
		}
	}
}

func FuzzValidName(f *testing.F) {
	rule := regexp.MustCompile(`^[a-z][a-z0-9]{1,29}$`)
	for _, s := range []string{"webhook", "a", "A1", "a" + strings.Repeat("0", 29)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, n string) {
		if got, want := validName(n), rule.MatchString(n); got != want {
			t.Errorf("validName(%q) = %v, the rule says %v", n, got, want)
		}
	})
}
