package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

func init() {
	register(newStreamsTestCmd)
}

// maxTestEvents is the most events streams:test may ask for (the API's
// MaxTestEvents).
const maxTestEvents = 100

// streamTestRequest is the body of POST streams/test.
type streamTestRequest struct {
	Source string  `json:"source"`
	Target string  `json:"target,omitempty"`
	Filter *string `json:"filter,omitempty"`
	Limit  int     `json:"limit"`
}

// streamTestResult is the answer of POST streams/test.
type streamTestResult struct {
	Source string `json:"source"`
	Target string `json:"target"`
	Events []struct {
		ID              string          `json:"id"`
		Time            time.Time       `json:"time"`
		Result          string          `json:"result"`
		Output          json.RawMessage `json:"output"`
		OutputTruncated bool            `json:"output_truncated"`
		Error           string          `json:"error"`
	} `json:"events"`
	Total       int `json:"total"`
	Kept        int `json:"kept"`
	Transformed int `json:"transformed"`
	Dropped     int `json:"dropped"`
	Errors      int `json:"errors"`
	Skipped     int `json:"skipped"`
}

func newStreamsTestCmd() *cobra.Command {
	var f *appFlags
	var filter string
	var n int
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "streams:test SOURCE [TARGET]",
		Short: "Try a filter on the latest events of subscription SOURCE (a dry-run: nothing is delivered or changed)",
		Long: `Runs a filter over the most recent events of subscription SOURCE and prints, for
each, what the stream would do: KEPT (delivered as is), TRANSFORMED (delivered
changed, with the output), DROPPED (deleted() by the filter), ERROR (the filter
failed: the event would be dead-lettered) or SKIPPED (too large to have been
kept). The filter is the stream SOURCE → TARGET's, or the one given with -f.
The last 50 events of each subscription are kept for this, for 7 days.`,
		Example: `  herokuevents streams:test inbound systemStatus -a my-app
  herokuevents streams:test inbound -n 50 -a my-app \
    -f 'root = if this.Context__c.string == "drop" { deleted() } else { this }'`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := streamTestRequest{Source: args[0], Limit: n}
			if len(args) == 2 {
				req.Target = args[1]
			}
			if cmd.Flags().Changed("filter") {
				req.Filter = &filter
			}
			switch {
			case req.Target == "" && strings.TrimSpace(filter) == "":
				return errors.New("give TARGET (to test the filter of the stream SOURCE → TARGET) or a filter with -f")
			case n < 1 || n > maxTestEvents:
				return fmt.Errorf("-n must be from 1 to %d", maxTestEvents)
			}
			c, err := f.connect(cmd.Context())
			if err != nil {
				return err
			}
			raw, err := c.do(cmd.Context(), http.MethodPost, c.path("streams", "test"), req)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return printJSON(out, raw)
			}
			var res streamTestResult
			if err := c.decode(raw, &res); err != nil {
				return err
			}
			printStreamTest(out, res)
			return nil
		},
	}
	f = addAppFlags(cmd)
	cmd.Flags().StringVarP(&filter, "filter", "f", "", "Bloblang filter to test instead of the stream's")
	cmd.Flags().IntVarP(&n, "number", "n", 20, fmt.Sprintf("how many of the latest events to test (1 to %d)", maxTestEvents))
	cmd.Flags().BoolVarP(&asJSON, "json", "j", false, "output in json format")
	return cmd
}

// printStreamTest writes one line per event (oldest first) and the counts.
func printStreamTest(w io.Writer, res streamTestResult) {
	if res.Total == 0 {
		fmt.Fprintf(w, "No recent events of subscription %s to test: events are kept as they arrive.\n", res.Source)
		return
	}
	rows := make([][]string, 0, len(res.Events))
	for _, e := range res.Events {
		detail := e.Error
		switch {
		case e.OutputTruncated:
			detail = "(output too large to show)"
		case len(e.Output) > 0:
			detail = string(e.Output)
		}
		at := ""
		if !e.Time.IsZero() {
			at = e.Time.UTC().Format(time.RFC3339)
		}
		rows = append(rows, []string{e.ID, at, strings.ToUpper(e.Result), strings.ReplaceAll(detail, "\n", " ")})
	}
	printTable(w, []string{"Event", "Time", "Result", "Output / error"}, rows)
	fmt.Fprintln(w)
	fmt.Fprintln(w, streamTestSummary(res))
}

// streamTestSummary is "10 kept, 10 dropped of 20 events", with the
// transformed, errors and skipped counts when there are any.
func streamTestSummary(res streamTestResult) string {
	parts := []string{fmt.Sprintf("%d kept", res.Kept)}
	if res.Transformed > 0 {
		parts = append(parts, fmt.Sprintf("%d transformed", res.Transformed))
	}
	parts = append(parts, fmt.Sprintf("%d dropped", res.Dropped))
	if res.Errors > 0 {
		parts = append(parts, plural(res.Errors, "error", "errors"))
	}
	if res.Skipped > 0 {
		parts = append(parts, fmt.Sprintf("%d skipped", res.Skipped))
	}
	return fmt.Sprintf("%s of %s", strings.Join(parts, ", "), plural(res.Total, "event", "events"))
}
