package samtemplate

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents"
)

// TestSettingsOfTemplate: parsing only a consumer's resources gives the
// settings the whole template gives, of every SQS event of every consumer
// of template.yaml.
func TestSettingsOfTemplate(t *testing.T) {
	whole, err := Parse(herokuevents.Template)
	require.NoError(t, err)
	consumers := 0
	for _, id := range whole.Functions() {
		t.Run(id, func(t *testing.T) {
			want, wantErr := whole.Settings(id)
			if wantErr != nil { // not a consumer: ParseFunction parses it all
				_, err := Settings(herokuevents.Template, id)
				assert.Error(t, err)
				return
			}
			consumers++
			sub, err := subsetOf(herokuevents.Template, id)
			require.NoError(t, err)
			got, err := sub.Settings(id)
			require.NoError(t, err)
			assert.Equal(t, want, got)
			f, err := whole.Function(id)
			require.NoError(t, err)
			for _, q := range f.Queues {
				want, err := whole.QueueSettings(id, q)
				require.NoError(t, err)
				got, err := sub.QueueSettings(id, q)
				require.NoError(t, err)
				assert.Equal(t, want, got, q)
			}
		})
	}
	assert.GreaterOrEqual(t, consumers, 3, "filter, deliver and partnernotify at least")
}

func TestResourcesText(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		ok        bool
		ids       []string
	}{
		{"sample", sample, true, []string{"Table", "Q", "DLQ", "Consumer", "Defaults", "Web"}},
		{"no resources", "Globals:\n  Function: {}\n", false, nil},
		{"resources twice", "Resources:\n  A:\n    Type: X\nResources:\n  B:\n    Type: Y\n", false, nil},
		{"resource twice", "Resources:\n  A:\n    Type: X\n  A:\n    Type: Y\n", false, nil},
		{"comments and flow", "Resources: # the stack\n  A: # first\n    Type: X\n  # a comment\n  B: {Type: Y}\n", true, []string{"A"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, res, err := resourcesText([]byte(tc.src))
			if !tc.ok {
				assert.ErrorIs(t, err, errNoSubset)
				return
			}
			require.NoError(t, err)
			for _, id := range tc.ids {
				assert.Contains(t, res, id)
			}
		})
	}
}

func BenchmarkSettings(b *testing.B) {
	b.Run("whole template", func(b *testing.B) {
		for b.Loop() {
			t, err := Parse(herokuevents.Template)
			require.NoError(b, err)
			_, err = t.Settings("DeliverFunction")
			require.NoError(b, err)
		}
	})
	b.Run("function and queues", func(b *testing.B) {
		for b.Loop() {
			_, err := Settings(herokuevents.Template, "DeliverFunction")
			require.NoError(b, err)
		}
	})
}
