package main

import (
	"bytes"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"os"
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
	)
	cmd := &cobra.Command{
		Use:   "dev:salesforce",
		Short: "Run a local stand-in Salesforce org (Pub/Sub API over TLS gRPC, OAuth, REST publish)",
		Long: `Run a local stand-in for a Salesforce org until interrupted.

It serves the Pub/Sub API (TLS gRPC with a self-signed certificate) with the
topics /event/System_Status__e and /data/AccountChangeEvent (more with
--topics-file), and on plain HTTP the OAuth endpoints (auto-approving
authorize), REST platform event publishing and a control API.

On stdout it prints NAME=value lines for the app and herokuevents:
SALESFORCE_LOGIN_URL, SALESFORCE_CLIENT_ID, SALESFORCE_CLIENT_SECRET,
SALESFORCE_PUBSUB_ENDPOINT and SALESFORCE_CA_CERT. Logs go to stderr.
Emit events with dev:salesforce:emit.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			logger, err := jsonLogger(cmd, logLevel)
			if err != nil {
				return err
			}
			opts := standin.Options{GRPCAddr: grpcAddr, HTTPAddr: httpAddr, Dir: dir, TopicsFile: topicsFile,
				Keepalive: keepalive, Logger: logger}
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
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "SALESFORCE_LOGIN_URL=%s\n", org.LoginURL())
			fmt.Fprintf(out, "SALESFORCE_CLIENT_ID=%s\n", org.ClientID())
			fmt.Fprintf(out, "SALESFORCE_CLIENT_SECRET=%s\n", org.ClientSecret())
			fmt.Fprintf(out, "SALESFORCE_PUBSUB_ENDPOINT=%s\n", org.PubSubEndpoint())
			fmt.Fprintf(out, "SALESFORCE_CA_CERT=%s\n", org.CACertFile())
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
	f.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	return cmd
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
	cmd := &cobra.Command{
		Use:   "dev:salesforce:emit TOPIC [JSON]",
		Short: "Emit an event on a topic of the local stand-in org and print its replay id",
		Long: `Emit an event on a topic of a running dev:salesforce stand-in.

JSON is an object of the event's fields, plain ("x") or Avro-union-wrapped
({"string":"x"}); "-" reads it from stdin; it defaults to {}. Platform events
get CreatedDate and CreatedById when absent; change events (/data/…) get
their ChangeEventHeader completed, with the changedFields and nulledFields
bitmaps computed from the fields given. Prints the replay id (base64).

  herokuevents dev:salesforce:emit /event/System_Status__e '{"Context__c":"up"}'`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			topic := args[0]
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
	cmd.Flags().StringVar(&httpAddr, "http-addr", "127.0.0.1:7080", "HTTP address (or URL) of the dev:salesforce stand-in")
	return cmd
}
