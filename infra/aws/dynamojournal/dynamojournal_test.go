package dynamojournal

import (
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/herokuevents/herokuevents"
	"github.com/herokuevents/herokuevents/infra/aws/awstest"
	"github.com/herokuevents/herokuevents/shared/journal"
	"github.com/herokuevents/herokuevents/shared/journal/journaltest"
)

var moto *awstest.Server

func TestMain(m *testing.M) { awstest.Main(m, &moto) }

func newTable(t *testing.T) (*dynamodb.Client, string) {
	t.Helper()
	return awstest.Table(t, moto, "journal", CreateTable)
}

func TestConformance(t *testing.T) {
	journaltest.Run(t, func(t *testing.T, o journaltest.Options) journal.Journal {
		client, table := newTable(t)
		j := New(client, table, Options{Retention: o.Retention, Now: o.Now})
		j.pageSize = 3 // reads and prunes page
		return j
	})
}

func TestTableHasTTL(t *testing.T) {
	client, table := newTable(t)
	out, err := client.DescribeTimeToLive(t.Context(), &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(table)})
	require.NoError(t, err)
	assert.Equal(t, AttrExpires, aws.ToString(out.TimeToLiveDescription.AttributeName))
	assert.Equal(t, types.TimeToLiveStatusEnabled, out.TimeToLiveDescription.TimeToLiveStatus)
}

// TestItemsExpire: every item carries its expiry (time + retention age) in
// the TTL attribute.
func TestItemsExpire(t *testing.T) {
	client, table := newTable(t)
	j := New(client, table, Options{Retention: journal.Retention{Age: time.Hour}})
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	require.NoError(t, j.Append(t.Context(),
		journal.Entry{Tenant: "t", EventID: "e", Time: at, Stage: journal.Accepted},
		journal.Entry{Tenant: "t", EventID: "e", Time: at, Stage: journal.Attempt, Publication: "p", Attempt: 1, Outcome: journal.Delivered}))
	out, err := client.Scan(t.Context(), &dynamodb.ScanInput{TableName: aws.String(table)})
	require.NoError(t, err)
	require.Len(t, out.Items, 2)
	for _, it := range out.Items {
		assert.Equal(t, &types.AttributeValueMemberN{Value: fmt.Sprint(at.Add(time.Hour).Unix())}, it[AttrExpires])
	}
}

// TestPrunesOncePerInterval: a publication is pruned by the Append that
// first writes to it, then not again before PruneEvery.
func TestPrunesOncePerInterval(t *testing.T) {
	client, table := newTable(t)
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	j := New(client, table, Options{Retention: journal.Retention{PerPublication: 2}, PruneEvery: time.Minute, Now: func() time.Time { return now }})
	ctx := t.Context()
	att := func(n int) journal.Entry {
		return journal.Entry{Tenant: "t", EventID: "e", Time: now.Add(time.Duration(n) * time.Second), Stage: journal.Attempt, Publication: "p", Attempt: n, Outcome: journal.Retry}
	}
	require.NoError(t, j.Append(ctx, att(1), att(2), att(3)))
	got, err := j.Attempts(ctx, "t", "p", journal.Query{Limit: 10})
	require.NoError(t, err)
	assert.Len(t, got, 2, "pruned by the first append")
	require.NoError(t, j.Append(ctx, att(4)))
	got, err = j.Attempts(ctx, "t", "p", journal.Query{Limit: 10})
	require.NoError(t, err)
	assert.Len(t, got, 3, "not pruned again within PruneEvery")
	now = now.Add(time.Minute)
	require.NoError(t, j.Append(ctx, att(5)))
	got, err = j.Attempts(ctx, "t", "p", journal.Query{Limit: 10})
	require.NoError(t, err)
	assert.Len(t, got, 2)
	assert.Equal(t, 5, got[0].Attempt)
}

// TestTemplateDeclaresTheTable: template.yaml's JournalTable has the keys,
// index and TTL attribute this driver uses.
func TestTemplateDeclaresTheTable(t *testing.T) {
	var tpl struct {
		Resources map[string]struct {
			Type       string `yaml:"Type"`
			Properties struct {
				KeySchema []struct {
					AttributeName string `yaml:"AttributeName"`
					KeyType       string `yaml:"KeyType"`
				} `yaml:"KeySchema"`
				GlobalSecondaryIndexes []struct {
					IndexName string `yaml:"IndexName"`
					KeySchema []struct {
						AttributeName string `yaml:"AttributeName"`
						KeyType       string `yaml:"KeyType"`
					} `yaml:"KeySchema"`
					Projection struct {
						ProjectionType string `yaml:"ProjectionType"`
					} `yaml:"Projection"`
				} `yaml:"GlobalSecondaryIndexes"`
				TimeToLiveSpecification struct {
					AttributeName string `yaml:"AttributeName"`
					Enabled       bool   `yaml:"Enabled"`
				} `yaml:"TimeToLiveSpecification"`
			} `yaml:"Properties"`
		} `yaml:"Resources"`
	}
	require.NoError(t, yaml.Unmarshal(herokuevents.Template, &tpl))
	table, ok := tpl.Resources["JournalTable"]
	require.True(t, ok, "template.yaml declares JournalTable")
	assert.Equal(t, "AWS::DynamoDB::Table", table.Type)
	want := TableInput("x")
	require.Len(t, table.Properties.KeySchema, len(want.KeySchema))
	for i, k := range want.KeySchema {
		assert.Equal(t, aws.ToString(k.AttributeName), table.Properties.KeySchema[i].AttributeName)
		assert.Equal(t, string(k.KeyType), table.Properties.KeySchema[i].KeyType)
	}
	require.Len(t, table.Properties.GlobalSecondaryIndexes, 1)
	gsi := table.Properties.GlobalSecondaryIndexes[0]
	assert.Equal(t, ByEvent, gsi.IndexName)
	assert.Equal(t, "ALL", gsi.Projection.ProjectionType)
	for i, k := range want.GlobalSecondaryIndexes[0].KeySchema {
		assert.Equal(t, aws.ToString(k.AttributeName), gsi.KeySchema[i].AttributeName)
	}
	assert.Equal(t, AttrExpires, table.Properties.TimeToLiveSpecification.AttributeName)
	assert.True(t, table.Properties.TimeToLiveSpecification.Enabled)
}
