package main

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/herokuevents/herokuevents/shared/salesforce/standin"
)

func init() { register(newDevSalesforceCmd, newDevSalesforceEmitCmd) }

func newDevSalesforceCmd() *cobra.Command {
	var (
		grpcAddr, httpAddr, dir, topicsFile, jwtKey, logLevel string
		keepalive                                             time.Duration
		topics, dcObjects                                     []string
	)
	cmd := &cobra.Command{
		Use:   "dev:salesforce",
		Short: "Run a local stand-in Salesforce org (Pub/Sub API over TLS gRPC, OAuth, REST publish)",
		Long: `Run a local stand-in for a Salesforce org until interrupted.

It serves the Pub/Sub API (TLS gRPC with a self-signed certificate:
PublishStream, Publish, Subscribe, ManagedSubscribe, GetTopic, GetSchema),
and on plain HTTP the OAuth endpoints, REST platform event publishing
(/services/data/vNN.0/sobjects/Name__e), Data Cloud's Ingestion API and a
control API. Unknown paths answer 404 [{"message","errorCode":"NOT_FOUND"}].

Login: one org (id 00D5g000000StandAA), one user. Every OAuth flow works at
SALESFORCE_LOGIN_URL/services/oauth2/token: authorize (approves at once, no
login page; PKCE or not), client credentials (SALESFORCE_CLIENT_ID and
SALESFORCE_CLIENT_SECRET), username-password (SALESFORCE_USERNAME and
SALESFORCE_PASSWORD), JWT bearer (SALESFORCE_JWT_KEY_FILE, or
--jwt-public-key), refresh. The instance URL is the login URL.

Topics: /event/System_Status__e (Context__c) and /data/AccountChangeEvent
(Name, Type, BillingAddress, …); add more with --topic (repeatable):
  --topic /event/Order__e                        CreatedDate, CreatedById
  --topic /event/Order__e:Amount__c=double,Note__c   + nullable fields (string,
                                                 double, long, int, boolean)
  --topic /data/ContactChangeEvent:Name,Email    a change event
  --topic /event/Order__e=@order.avsc            an Avro schema file
or --topics-file. Data Cloud Ingestion API objects: salesConnector/
HighPriorityOrder (OrderId, TotalValue, Status); add more with
--datacloud-object CONNECTOR/OBJECT:field,field (repeatable).

Other clients: the official Node client (npm salesforce-pubsub-api-client)
connects with authType oauth-client-credentials, loginUrl
SALESFORCE_LOGIN_URL, pubSubEndpoint SALESFORCE_PUBSUB_ENDPOINT and
rejectUnauthorizedSsl false (it trusts only its bundled CA file).

It prints the variables that point herokuevents and the CLI at it, as export
lines to paste on a terminal (NAME=value lines when piped):
  SALESFORCE_LOGIN_URL         OAuth, REST and control API; the default
                               --login-url of authorizations:salesforce:create
                               and --http-addr of dev:salesforce:emit
  SALESFORCE_CLIENT_ID         the connected app (the operator's default for
  SALESFORCE_CLIENT_SECRET     browser logins; client credentials flow)
  SALESFORCE_USERNAME          the org's one user (JWT bearer flow; the browser
  SALESFORCE_PASSWORD          login approves at once)
  SALESFORCE_JWT_KEY_FILE      a private key the org accepts for the JWT bearer flow
  SALESFORCE_PUBSUB_ENDPOINT   the Pub/Sub API, and its CA certificate
  SALESFORCE_CA_CERT
Logs go to stderr. Emit events with dev:salesforce:emit.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			logger, err := jsonLogger(cmd, logLevel)
			if err != nil {
				return err
			}
			if dir != "" {
				if err := os.MkdirAll(dir, 0o700); err != nil {
					return fmt.Errorf("--dir: %w", err)
				}
			}
			opts := standin.Options{GRPCAddr: grpcAddr, HTTPAddr: httpAddr, Dir: dir, TopicsFile: topicsFile,
				Keepalive: keepalive, Logger: logger}
			for _, decl := range topics {
				spec, err := standin.ParseTopic(decl)
				if err != nil {
					return fmt.Errorf("--topic: %w", err)
				}
				opts.Topics = append(opts.Topics, spec)
			}
			type dcObject struct {
				connector, object string
				fields            []string
			}
			var objects []dcObject
			for _, decl := range dcObjects {
				c, o, fields, err := standin.ParseDataCloudObject(decl)
				if err != nil {
					return fmt.Errorf("--datacloud-object: %w", err)
				}
				objects = append(objects, dcObject{c, o, fields})
			}
			if jwtKey != "" {
				pub, err := readRSAPublicKey(jwtKey)
				if err != nil {
					return err
				}
				opts.JWTKeys = append(opts.JWTKeys, pub)
			}
			org, err := standin.Start(opts)
			if err != nil {
				return fmt.Errorf("start salesforce stand-in: %w", err)
			}
			defer org.Close()
			for _, d := range objects {
				org.RegisterIngestionObject(d.connector, d.object, d.fields...)
			}
			keyFile, err := writeJWTKey(org)
			if err != nil {
				return err
			}
			vars := [][2]string{
				{"SALESFORCE_LOGIN_URL", org.LoginURL()},
				{"SALESFORCE_CLIENT_ID", org.ClientID()},
				{"SALESFORCE_CLIENT_SECRET", org.ClientSecret()},
				{"SALESFORCE_USERNAME", org.Username()},
				{"SALESFORCE_PASSWORD", org.Password()},
				{"SALESFORCE_JWT_KEY_FILE", keyFile},
				{"SALESFORCE_PUBSUB_ENDPOINT", org.PubSubEndpoint()},
				{"SALESFORCE_CA_CERT", org.CACertFile()},
			}
			out := cmd.OutOrStdout()
			if f, ok := out.(*os.File); ok && isTerminal(f) {
				fmt.Fprintf(out, "The Salesforce stand-in org is ready at %s (user %s, password %s). "+
					"In the terminals of herokuevents serve and of the CLI, paste:\n\n", org.LoginURL(), org.Username(), org.Password())
				for _, kv := range vars {
					fmt.Fprintf(out, "  export %s=%s\n", kv[0], shellQuote(kv[1]))
				}
				fmt.Fprintln(out, "\nStop with Ctrl-C; nothing is kept.")
			} else {
				for _, kv := range vars {
					fmt.Fprintf(out, "%s=%s\n", kv[0], kv[1])
				}
			}
			<-cmd.Context().Done()
			logger.Info("salesforce stand-in stopping")
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&grpcAddr, "grpc-addr", "127.0.0.1:7443", "Pub/Sub API (TLS gRPC) listen address")
	f.StringVar(&httpAddr, "http-addr", "127.0.0.1:7080", "OAuth, REST and control API (HTTP) listen address")
	f.StringVar(&dir, "dir", "", "directory for the certificate file (default: a temporary directory removed at exit)")
	f.StringVar(&topicsFile, "topics-file", "", `JSON file of extra topics: [{"name":"/event/X__e","schema":{…avro…}}]`)
	f.StringVar(&jwtKey, "jwt-public-key", "", "PEM RSA public key (or certificate) accepted for the JWT bearer flow")
	f.DurationVar(&keepalive, "keepalive", 60*time.Second, "keepalive interval of idle subscriptions")
	f.StringArrayVar(&topics, "topic", nil, "add a topic: /event/Name__e[:Field__c[=type],…], /data/NameChangeEvent[:Field,…] or NAME=@schema.avsc (repeatable)")
	f.StringArrayVar(&dcObjects, "datacloud-object", nil, "add a Data Cloud Ingestion API object: CONNECTOR/OBJECT:field,field (repeatable)")
	f.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	return cmd
}

// writeJWTKey makes an RSA key the org accepts for JWT bearer assertions
// and writes its private half, PEM, next to the org's certificate (--dir,
// or the temporary directory removed at exit).
func writeJWTKey(org *standin.Org) (string, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return "", fmt.Errorf("make a JWT key: %w", err)
	}
	path := filepath.Join(filepath.Dir(org.CACertFile()), "jwt-key.pem")
	block := &pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		return "", fmt.Errorf("write the JWT key: %w", err)
	}
	org.RegisterJWTKey(&key.PublicKey)
	return path, nil
}

func readRSAPublicKey(path string) (*rsa.PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read --jwt-public-key: %w", err)
	}
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, fmt.Errorf("read --jwt-public-key %s: no PEM block", path)
	}
	var key any
	switch block.Type {
	case "CERTIFICATE":
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("read --jwt-public-key: %w", err)
		}
		key = cert.PublicKey
	case "RSA PUBLIC KEY":
		key, err = x509.ParsePKCS1PublicKey(block.Bytes)
	default:
		key, err = x509.ParsePKIXPublicKey(block.Bytes)
	}
	if err != nil {
		return nil, fmt.Errorf("read --jwt-public-key: %w", err)
	}
	pub, ok := key.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("read --jwt-public-key %s: not an RSA key", path)
	}
	return pub, nil
}

func newDevSalesforceEmitCmd() *cobra.Command {
	var httpAddr string
	var da dataActionFlags
	cmd := &cobra.Command{
		Use:   "dev:salesforce:emit TOPIC [JSON]",
		Short: "Emit an event on a topic of the local stand-in org (or a Data Cloud data action to a target)",
		Long: `Emit an event on a topic of a running dev:salesforce stand-in.

JSON is an object of the event's fields, plain ("x") or Avro-union-wrapped
({"string":"x"}); "-" reads it from stdin; it defaults to {}. Platform events
get CreatedDate and CreatedById when absent; change events (/data/…) get
their ChangeEventHeader completed, with the changedFields and nulledFields
bitmaps computed from the fields given. Prints the replay id (base64).

  herokuevents dev:salesforce:emit /event/System_Status__e '{"Context__c":"up"}'

With --data-action ACTION, the stand-in's Data Cloud sends a data action instead: TOPIC is the data
model object that changed (SourceObjectDeveloperName), JSON one record or an array of records (the
current values), POSTed in one signed batch to --target with --key (the URL and signing key that
subscriptions:datacloud:create printed). Prints the target's answer.

  herokuevents dev:salesforce:emit Patient__dlm '[{"Id__c":"p-1"},{"Id__c":"p-2"}]' \
    --data-action PatientChanged --target "$URL" --key "$KEY"`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			topic := args[0]
			if da.action != "" {
				return emitDataAction(cmd, httpAddr, da, args)
			}
			if !strings.HasPrefix(topic, "/event/") && !strings.HasPrefix(topic, "/data/") {
				return fmt.Errorf("topic %q: must start with /event/ or /data/", topic)
			}
			body := []byte("{}")
			if len(args) == 2 {
				body = []byte(args[1])
				if args[1] == "-" {
					b, err := io.ReadAll(cmd.InOrStdin())
					if err != nil {
						return fmt.Errorf("read stdin: %w", err)
					}
					body = b
				}
			}
			if !json.Valid(body) {
				return fmt.Errorf("event JSON is not valid JSON")
			}
			base := httpAddr
			if !strings.Contains(base, "://") {
				base = "http://" + base
			}
			req, err := http.NewRequestWithContext(cmd.Context(), http.MethodPost,
				strings.TrimRight(base, "/")+"/_stand-in/emit"+topic, bytes.NewReader(body))
			if err != nil {
				return fmt.Errorf("emit event: %w", err)
			}
			req.Header.Set("Content-Type", "application/json")
			resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
			if err != nil {
				return fmt.Errorf("emit event (is dev:salesforce running on %s?): %w", httpAddr, err)
			}
			defer resp.Body.Close()
			rb, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
			if err != nil {
				return fmt.Errorf("emit event: %w", err)
			}
			if resp.StatusCode != http.StatusCreated {
				var e struct {
					Message string `json:"message"`
				}
				if json.Unmarshal(rb, &e) == nil && e.Message != "" {
					return fmt.Errorf("emit event: %s", e.Message)
				}
				return fmt.Errorf("emit event: HTTP %d", resp.StatusCode)
			}
			var res standin.EmitResponse
			if err := json.Unmarshal(rb, &res); err != nil {
				return fmt.Errorf("emit event: %w", err)
			}
			fmt.Fprintln(cmd.OutOrStdout(), res.ReplayID)
			return nil
		},
	}
	def := "127.0.0.1:7080"
	if env := os.Getenv("SALESFORCE_LOGIN_URL"); env != "" {
		def = env
	}
	cmd.Flags().StringVar(&httpAddr, "http-addr", def, "HTTP address (or URL) of the dev:salesforce stand-in (default $SALESFORCE_LOGIN_URL when set)")
	cmd.Flags().StringVar(&da.action, "data-action", "", "send a Data Cloud data action of this name (ActionDeveloperName) instead of an event")
	cmd.Flags().StringVar(&da.target, "target", "", "with --data-action: the data action target URL")
	cmd.Flags().StringVar(&da.key, "key", "", "with --data-action: the target's signing key")
	cmd.Flags().StringVar(&da.prompt, "prompt", "", "with --data-action: EventPrompt, INSERT (default), UPDATE or DELETE")
	return cmd
}
