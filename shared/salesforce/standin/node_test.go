package standin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/salesforce/standin"
)

// nodeClient is where scripts/setup-tools installs the official Node
// Pub/Sub client (npm salesforce-pubsub-api-client, pinned).
const nodeClient = "../../../.tools/node/node_modules/salesforce-pubsub-api-client/dist/client.js"

// TestNodeClientPublishBatch publishes with the official Node client's
// publishBatch (a PublishStream) against the stand-in: it logs in with the
// client credentials flow at the stand-in's login URL and publishes to its
// Pub/Sub endpoint.
func TestNodeClientPublishBatch(t *testing.T) {
	client, err := filepath.Abs(nodeClient)
	require.NoError(t, err)
	_, err = os.Stat(client)
	require.NoError(t, err, "the Node Pub/Sub client is missing: run scripts/setup-tools")
	node, err := exec.LookPath("node")
	require.NoError(t, err, "node is missing: run scripts/setup-tools")

	org := start(t, standin.Options{})
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "testdata/publishbatch.mjs")
	cmd.Env = append(os.Environ(),
		"PUBSUB_CLIENT="+client,
		"SALESFORCE_LOGIN_URL="+org.LoginURL(),
		"SALESFORCE_CLIENT_ID="+org.ClientID(),
		"SALESFORCE_CLIENT_SECRET="+org.ClientSecret(),
		"SALESFORCE_PUBSUB_ENDPOINT="+org.PubSubEndpoint(),
		"TOPIC="+standin.SystemStatusTopic,
	)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), "stderr: %s", stderr.String())

	var results []struct {
		ReplayID       any    `json:"replayId"`
		CorrelationKey string `json:"correlationKey"`
	}
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &results), stdout.String())
	require.Len(t, results, 2)
	assert.Equal(t, "node-1", results[0].CorrelationKey)
	assert.Equal(t, "node-2", results[1].CorrelationKey)

	pub := org.Published(standin.SystemStatusTopic)
	require.Len(t, pub, 2)
	for i, want := range []string{"node one", "node two"} {
		assert.Equal(t, "pubsub", pub[i].Via)
		var data map[string]any
		require.NoError(t, json.Unmarshal(pub[i].Data, &data))
		assert.Equal(t, map[string]any{"string": want}, data["Context__c"])
	}
}
