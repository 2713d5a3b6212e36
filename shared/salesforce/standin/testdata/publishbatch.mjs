// Publishes a batch of two events with the official Node Pub/Sub client
// (npm salesforce-pubsub-api-client, installed by scripts/setup-tools) and
// prints the publish response's results as JSON on stdout.
//
// Environment: PUBSUB_CLIENT (path of the package's dist/client.js),
// SALESFORCE_LOGIN_URL, SALESFORCE_CLIENT_ID, SALESFORCE_CLIENT_SECRET,
// SALESFORCE_PUBSUB_ENDPOINT, TOPIC.
const { default: PubSubApiClient } = await import(process.env.PUBSUB_CLIENT);

const quiet = { debug() {}, info() {}, warn: console.error, error: console.error };
const client = new PubSubApiClient(
  {
    authType: 'oauth-client-credentials',
    loginUrl: process.env.SALESFORCE_LOGIN_URL,
    clientId: process.env.SALESFORCE_CLIENT_ID,
    clientSecret: process.env.SALESFORCE_CLIENT_SECRET,
    pubSubEndpoint: process.env.SALESFORCE_PUBSUB_ENDPOINT,
    // The client trusts only the CA bundle it ships (it cannot be extended),
    // so the stand-in's self-signed certificate needs verification off.
    rejectUnauthorizedSsl: false,
  },
  quiet,
);
const timer = setTimeout(() => {
  console.error('no publish response within 20 s');
  process.exit(1);
}, 20000);
await client.connect();
const now = Date.now();
await client.publishBatch(
  process.env.TOPIC,
  [
    { id: 'node-1', payload: { CreatedDate: now, CreatedById: '005000000000001AAA', Context__c: { string: 'node one' } } },
    { id: 'node-2', payload: { CreatedDate: now, CreatedById: '005000000000001AAA', Context__c: { string: 'node two' } } },
  ],
  (_info, type, data) => {
    if (type === 'publishResponse') {
      clearTimeout(timer);
      console.log(JSON.stringify(data.results));
      client.close();
      process.exit(0);
    }
    if (type === 'error') {
      console.error('publish error:', data.details ?? data.message ?? data);
      process.exit(1);
    }
  },
);
