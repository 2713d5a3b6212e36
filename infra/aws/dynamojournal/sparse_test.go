package dynamojournal

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/journal"
)

// byEvent returns the SKs of the ByEvent index's items of event e.
func byEvent(t *testing.T, client *dynamodb.Client, table, tenant, e string) []string {
	t.Helper()
	out, err := client.Query(t.Context(), &dynamodb.QueryInput{
		TableName: aws.String(table), IndexName: aws.String(ByEvent),
		KeyConditionExpression:    aws.String("#ek = :ek"),
		ExpressionAttributeNames:  map[string]string{"#ek": AttrEK},
		ExpressionAttributeValues: map[string]types.AttributeValue{":ek": s(eventKey(tenant, e))},
	})
	require.NoError(t, err)
	var sks []string
	for _, it := range out.Items {
		sks = append(sks, stringAttr(it, AttrSK))
	}
	return sks
}

// TestOnlyAttemptsEnterTheIndex: an acceptance or a routing is in its
// event's partition and not copied to ByEvent (one write unit, not two);
// the event's view still has every entry, in time order, and items written
// before (an acceptance carrying EK, in both) once.
func TestOnlyAttemptsEnterTheIndex(t *testing.T) {
	client, table := newTable(t)
	j := New(client, table, Options{})
	j.pageSize = 2 // reads page
	at := time.Now().UTC().Truncate(time.Millisecond)
	require.NoError(t, j.Append(t.Context(),
		journal.Entry{Tenant: "t", EventID: "e", Time: at, Stage: journal.Accepted},
		journal.Entry{Tenant: "t", EventID: "e", Time: at.Add(1 * time.Millisecond), Stage: journal.Routed, Publication: "p"},
		journal.Entry{Tenant: "t", EventID: "e", Time: at.Add(2 * time.Millisecond), Stage: journal.Routed, Publication: "q"},
		journal.Entry{Tenant: "t", EventID: "e", Time: at.Add(3 * time.Millisecond), Stage: journal.Attempt, Publication: "p", Attempt: 1, Outcome: journal.Retry},
		journal.Entry{Tenant: "t", EventID: "e", Time: at.Add(5 * time.Millisecond), Stage: journal.Attempt, Publication: "p", Attempt: 2, Outcome: journal.Delivered},
	))
	assert.Len(t, byEvent(t, client, table, "t", "e"), 2, "the two attempts only")

	// An acceptance as written before the index was sparse: EK set on an
	// item of the event's partition.
	old, err := j.record(journal.Entry{Tenant: "t", EventID: "e", Time: at.Add(4 * time.Millisecond), Stage: journal.Routed, Publication: "r"})
	require.NoError(t, err)
	old[AttrEK] = old[AttrPK]
	_, err = client.PutItem(t.Context(), &dynamodb.PutItemInput{TableName: aws.String(table), Item: old})
	require.NoError(t, err)

	got, err := j.Event(t.Context(), "t", "e")
	require.NoError(t, err)
	type seen struct {
		stage journal.Stage
		pub   string
		n     int
	}
	var view []seen
	for _, e := range got {
		view = append(view, seen{e.Stage, e.Publication, e.Attempt})
	}
	assert.Equal(t, []seen{
		{journal.Accepted, "", 0}, {journal.Routed, "p", 0}, {journal.Routed, "q", 0},
		{journal.Attempt, "p", 1}, {journal.Routed, "r", 0}, {journal.Attempt, "p", 2},
	}, view, "every entry once, in time order")

	require.NoError(t, j.Forget(t.Context(), "t", []string{"p"}))
	out, err := client.Scan(t.Context(), &dynamodb.ScanInput{TableName: aws.String(table)})
	require.NoError(t, err)
	assert.Empty(t, out.Items, "forgotten: the event's partition, the old item and the attempts")
}
