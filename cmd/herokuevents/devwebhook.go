package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
)

func init() { register(newDevWebhookCmd) }

func newDevWebhookCmd() *cobra.Command {
	var addr string
	cmd := &cobra.Command{
		Use:   "dev:webhook",
		Short: "Run a local webhook receiver that prints every event it is sent",
		Long: `Run a webhook receiver on this machine until interrupted: every request to
any path is answered 200 and printed on stdout (method, path, the CloudEvent
and webhook headers, the body as indented JSON). It consents to the
CloudEvents webhook handshake that publications:webhook:create sends first
(OPTIONS with WebHook-Request-Origin).

Point a webhook publication at it (the embedded mode needs
--allow-egress 127.0.0.0/8 to deliver to loopback):

  herokuevents publications:webhook:create accountHook -u http://127.0.0.1:8080/hook -a my-app`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return fmt.Errorf("listen on %s: %w (choose another --addr)", addr, err)
			}
			url := "http://" + ln.Addr().String() + "/hook"
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "Webhook receiver ready at %s; each request is printed here. Stop with Ctrl-C.\n", url)
			var mu sync.Mutex
			srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
				mu.Lock()
				defer mu.Unlock()
				if origin := r.Header.Get("WebHook-Request-Origin"); r.Method == http.MethodOptions && origin != "" {
					w.Header().Set("Allow", "POST, OPTIONS")
					w.Header().Set("WebHook-Allowed-Origin", origin)
					w.Header().Set("WebHook-Allowed-Rate", "*")
					fmt.Fprintf(out, "\n%s OPTIONS %s: CloudEvents webhook handshake from %s, granted\n", time.Now().Format("15:04:05"), r.URL.RequestURI(), origin)
					return
				}
				printRequest(out, r, body)
			})}
			done := make(chan error, 1)
			go func() { done <- srv.Serve(ln) }()
			select {
			case <-cmd.Context().Done():
				return srv.Close()
			case err := <-done:
				return err
			}
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8080", "listen address")
	return cmd
}

// printRequest prints one received request: a line with the time, method
// and path, the headers that say what it is, and the body.
func printRequest(w io.Writer, r *http.Request, body []byte) {
	fmt.Fprintf(w, "\n%s %s %s\n", time.Now().Format("15:04:05"), r.Method, r.URL.RequestURI())
	var names []string
	for k := range r.Header {
		lk := strings.ToLower(k)
		if lk == "content-type" || lk == "authorization" || strings.HasPrefix(lk, "ce-") || strings.HasPrefix(lk, "webhook-") ||
			strings.HasPrefix(lk, "heroku-") {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	for _, k := range names {
		fmt.Fprintf(w, "%s: %s\n", k, strings.Join(r.Header.Values(k), ", "))
	}
	var pretty bytes.Buffer
	if json.Indent(&pretty, body, "", "  ") == nil {
		body = pretty.Bytes()
	}
	fmt.Fprintf(w, "%s\n", body)
}
