package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/herokuevents/herokuevents/shared/salesforce/standin"
)

// dataActionFlags are the --data-action flags of dev:salesforce:emit.
type dataActionFlags struct {
	action, target, key, prompt string
}

// emitDataAction asks the stand-in at httpAddr to send a data action of the
// object args[0] with the records args[1] (an object or an array; "-"
// reads stdin) and prints the target's answer: its status on stderr, its
// body on stdout. A refusal by the target is an error.
func emitDataAction(cmd *cobra.Command, httpAddr string, da dataActionFlags, args []string) error {
	if da.target == "" || da.key == "" {
		return errors.New("--data-action needs --target and --key: the URL and signing key subscriptions:datacloud:create printed")
	}
	switch da.prompt {
	case "", "INSERT", "UPDATE", "DELETE":
	default:
		return fmt.Errorf("--prompt %q: use INSERT, UPDATE or DELETE", da.prompt)
	}
	raw := []byte("{}")
	if len(args) == 2 {
		raw = []byte(args[1])
		if args[1] == "-" {
			b, err := io.ReadAll(cmd.InOrStdin())
			if err != nil {
				return fmt.Errorf("read stdin: %w", err)
			}
			raw = b
		}
	}
	var records []json.RawMessage
	trimmed := bytes.TrimSpace(raw)
	switch {
	case !json.Valid(trimmed):
		return errors.New("records JSON is not valid JSON")
	case len(trimmed) > 0 && trimmed[0] == '[':
		if err := json.Unmarshal(trimmed, &records); err != nil || len(records) == 0 {
			return errors.New("records JSON: give an object or a non-empty array of objects")
		}
	default:
		records = []json.RawMessage{trimmed}
	}
	body, err := json.Marshal(standin.DataAction{URL: da.target, Key: da.key, Action: da.action, Object: args[0], Prompt: da.prompt, Records: records})
	if err != nil {
		return fmt.Errorf("send data action: %w", err)
	}
	base := httpAddr
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	req, err := http.NewRequestWithContext(cmd.Context(), http.MethodPost, strings.TrimRight(base, "/")+"/_stand-in/data-action", bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("send data action: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: 40 * time.Second}).Do(req)
	if err != nil {
		return fmt.Errorf("send data action (is dev:salesforce running on %s?): %w", httpAddr, err)
	}
	defer resp.Body.Close()
	rb, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("send data action: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Message string `json:"message"`
		}
		if json.Unmarshal(rb, &e) == nil && e.Message != "" {
			return fmt.Errorf("send data action: %s", e.Message)
		}
		return fmt.Errorf("send data action: HTTP %d", resp.StatusCode)
	}
	var res standin.DataActionResult
	if err := json.Unmarshal(rb, &res); err != nil {
		return fmt.Errorf("send data action: %w", err)
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "The target answered HTTP %d.\n", res.Status)
	if len(res.Body) > 0 {
		fmt.Fprintln(cmd.OutOrStdout(), string(res.Body))
	}
	if res.Status/100 != 2 {
		return fmt.Errorf("the target refused the data action (HTTP %d)", res.Status)
	}
	return nil
}
