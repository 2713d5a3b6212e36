package main

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/spf13/cobra"
)

func init() { register(newLogsCmd) }

// tailEvery is how often `logs --tail` asks for new lines.
var tailEvery = time.Second

// logLines is the answer of GET /v1/tenants/T/logs.
type logLines struct {
	Lines []struct {
		Seq  uint64 `json:"seq"`
		Line string `json:"line"`
	} `json:"lines"`
	Next uint64 `json:"next"`
}

func newLogsCmd() *cobra.Command {
	var (
		f    *appFlags
		n    int
		tail bool
	)
	cmd := &cobra.Command{
		Use:   "logs",
		Short: "Display the app's herokuevents log lines, as heroku logs shows them",
		Long: "Display the lines herokuevents writes to the app's log stream (events accepted, filtered out,\n" +
			"delivered, retried and dead-lettered, subscriptions and authorizations, and once a minute the\n" +
			"l2met metrics), in the format of `heroku logs`. The embedded mode keeps the latest 1500 lines;\n" +
			"on Heroku they are in the app's own log stream: heroku logs --tail --dyno herokuevents.",
		Example: "  herokuevents logs -a my-app\n  herokuevents logs --tail -n 20 -a my-app",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if n < 1 || n > 1500 {
				return fmt.Errorf("-n must be from 1 to 1500, not %d", n)
			}
			ctx := cmd.Context()
			c, err := f.connect(ctx)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			after := uint64(0)
			for {
				q := url.Values{"n": {strconv.Itoa(n)}}
				if after > 0 {
					q.Set("after", strconv.FormatUint(after, 10))
					q.Set("n", "1500")
				}
				var got logLines
				if err := c.call(ctx, http.MethodGet, c.path("logs")+"?"+q.Encode(), nil, &got); err != nil {
					if tail && ctx.Err() != nil {
						return nil
					}
					var e *apiError
					if errors.As(err, &e) && e.Status == http.StatusNotFound && e.ID == "not_found" {
						return errors.New("this herokuevents keeps no log lines (the AWS mode ships them to the app's log stream only): heroku logs --tail --dyno herokuevents -a " + f.app)
					}
					return err
				}
				for _, l := range got.Lines {
					fmt.Fprintln(out, l.Line)
				}
				after = max(after, got.Next)
				if !tail {
					return nil
				}
				select {
				case <-ctx.Done():
					return nil
				case <-time.After(tailEvery):
				}
			}
		},
	}
	f = addAppFlags(cmd)
	cmd.Flags().IntVarP(&n, "num", "n", 100, "number of lines to display")
	cmd.Flags().BoolVarP(&tail, "tail", "t", false, "continually stream logs")
	return cmd
}
