package dynamojournal

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/journal"
)

// TestForget: a deprovisioned tenant's attempts and the entries of their
// events are deleted; another tenant's stay.
func TestForget(t *testing.T) {
	client, table := newTable(t)
	j := New(client, table, Options{})
	j.pageSize = 2 // reads page
	at := time.Now().UTC()
	var entries []journal.Entry
	for _, tenant := range []string{"gone", "kept"} {
		for i, ev := range []string{"e1", "e2", "e3"} {
			entries = append(entries,
				journal.Entry{Tenant: tenant, EventID: ev, Time: at, Stage: journal.Accepted},
				journal.Entry{Tenant: tenant, EventID: ev, Time: at.Add(time.Millisecond), Stage: journal.Attempt, Publication: "p", Attempt: i + 1, Outcome: journal.Delivered})
		}
	}
	require.NoError(t, j.Append(t.Context(), entries...))
	require.NoError(t, j.Forget(t.Context(), "gone", []string{"p"}))

	out, err := client.Scan(t.Context(), &dynamodb.ScanInput{TableName: aws.String(table)})
	require.NoError(t, err)
	assert.Len(t, out.Items, 6, "only the other tenant's entries are left")
	for _, ev := range []string{"e1", "e2", "e3"} {
		got, err := j.Event(t.Context(), "gone", ev)
		require.NoError(t, err)
		assert.Empty(t, got)
		got, err = j.Event(t.Context(), "kept", ev)
		require.NoError(t, err)
		assert.Len(t, got, 2)
	}
	require.NoError(t, j.Forget(t.Context(), "gone", []string{"p"}), "again: nothing to do")
}
