package awstest_test

import (
	"context"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/infra/aws/awstest"
)

func TestServer(t *testing.T) {
	srv, err := awstest.Start()
	require.NoError(t, err)
	closed := false
	t.Cleanup(func() {
		if !closed {
			assert.NoError(t, srv.Close())
		}
	})
	require.Regexp(t, `^http://127\.0\.0\.1:\d+$`, srv.URL)

	client := dynamodb.NewFromConfig(srv.Config())
	tables := func() []string {
		t.Helper()
		out, err := client.ListTables(t.Context(), &dynamodb.ListTablesInput{})
		require.NoError(t, err)
		return out.TableNames
	}

	t.Run("answers the SDK", func(t *testing.T) {
		_, err := client.CreateTable(t.Context(), &dynamodb.CreateTableInput{
			TableName:            aws.String("probe"),
			BillingMode:          types.BillingModePayPerRequest,
			AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("PK"), AttributeType: types.ScalarAttributeTypeS}},
			KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("PK"), KeyType: types.KeyTypeHash}},
		})
		require.NoError(t, err)
		require.Equal(t, []string{"probe"}, tables())
	})

	t.Run("reset drops resources", func(t *testing.T) {
		require.NoError(t, srv.Reset(t.Context()))
		require.Empty(t, tables())
	})

	t.Run("log holds requests", func(t *testing.T) {
		require.Contains(t, srv.Log(), "POST /")
	})

	t.Run("close stops it", func(t *testing.T) {
		require.NoError(t, srv.Close())
		closed = true
		require.NoError(t, srv.Close(), "twice")
		c := &http.Client{Timeout: time.Second}
		_, err := c.Get(srv.URL + "/moto-api/")
		require.Error(t, err, "nothing listens after Close")
	})
}

func TestNewServersAreIndependent(t *testing.T) {
	a, b := awstest.New(t), awstest.New(t)
	require.NotEqual(t, a.URL, b.URL)
}

func TestMissingExecutableFails(t *testing.T) {
	t.Setenv("MOTO_SERVER", filepath.Join(t.TempDir(), "no-moto"))
	_, err := awstest.Start()
	require.ErrorContains(t, err, "scripts/setup-tools")
}

func TestModuleRoot(t *testing.T) {
	t.Setenv("MOTO_SERVER", "")
	root, err := awstest.ModuleRoot()
	require.NoError(t, err)
	require.FileExists(t, filepath.Join(root, "go.mod"))
	bin, err := awstest.Executable()
	require.NoError(t, err, "run scripts/setup-tools")
	require.Equal(t, filepath.Join(root, ".venv", "bin", "moto_server"), bin)
}

// TestTable: each call makes a new table through create and gives a client
// of the server.
func TestTable(t *testing.T) {
	srv := awstest.New(t)
	var made []string
	create := func(ctx context.Context, client *dynamodb.Client, table string) error {
		made = append(made, table)
		_, err := client.CreateTable(ctx, &dynamodb.CreateTableInput{
			TableName:            aws.String(table),
			BillingMode:          types.BillingModePayPerRequest,
			AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("k"), AttributeType: types.ScalarAttributeTypeS}},
			KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("k"), KeyType: types.KeyTypeHash}},
		})
		return err
	}
	client, a := awstest.Table(t, srv, "things", create)
	_, b := awstest.Table(t, srv, "things", create)
	require.Equal(t, []string{a, b}, made)
	require.NotEqual(t, a, b)
	require.Regexp(t, `^things-\d+$`, a)
	out, err := client.ListTables(t.Context(), &dynamodb.ListTablesInput{})
	require.NoError(t, err)
	require.ElementsMatch(t, []string{a, b}, out.TableNames)
}
