package main

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/herokuevents/herokuevents/shared/replay"
)

func init() {
	register(newDeadLettersCmd, newDeadLettersRedriveCmd)
}

// deadLetter is a dead-lettered event as the management API lists it.
type deadLetter struct {
	ID      string `json:"id"`
	Queue   string `json:"queue"`
	EventID string `json:"event_id"`
	Target  string `json:"target"`
	Reason  string `json:"reason"`
	Attempt int    `json:"attempt"`
}

// deadLettersLimit is how many dead letters the CLI asks for (the API's maximum).
const deadLettersLimit = 1000

func deadLettersPath(c *apiClient) string {
	return c.path("dead-letters") + fmt.Sprintf("?limit=%d", deadLettersLimit)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}

func newDeadLettersCmd() *cobra.Command {
	var f *appFlags
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "deadletters",
		Short: "List the events of an app that failed for good (dead letters)",
		Long: "List the events of an app that could not be routed or delivered and were set aside,\n" +
			"with the reason. Fix the cause, then send them again with deadletters:redrive.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := f.connect(cmd.Context())
			if err != nil {
				return err
			}
			raw, err := c.do(cmd.Context(), http.MethodGet, deadLettersPath(c), nil)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return printJSON(out, raw)
			}
			var list []deadLetter
			if err := c.decode(raw, &list); err != nil {
				return err
			}
			if len(list) == 0 {
				fmt.Fprintf(out, "No dead letters for app %s.\n", f.app)
				return nil
			}
			rows := make([][]string, 0, len(list))
			for _, d := range list {
				reason := strings.Join(strings.Fields(d.Reason), " ")
				rows = append(rows, []string{d.ID, d.Queue, d.EventID, d.Target, reason})
			}
			printHeader(out, fmt.Sprintf("Dead letters for app %s", f.app))
			printTable(out, []string{"Id", "Queue", "Event", "Target", "Reason"}, rows)
			return nil
		},
	}
	f = addAppFlags(cmd)
	cmd.Flags().BoolVarP(&asJSON, "json", "j", false, "output in json format")
	return cmd
}

func newDeadLettersRedriveCmd() *cobra.Command {
	var f *appFlags
	var pub, from, to string
	cmd := &cobra.Command{
		Use:   "deadletters:redrive [ID...]",
		Short: "Send dead letters of an app again (all of them without IDs)",
		Long: "Send dead letters back to the queue they failed on, as fresh attempts: the\n" +
			"publication's retry policy starts again. Without IDs, every dead letter of the app,\n" +
			"or those bound for --publication and dead-lettered between --from and --to\n" +
			"(RFC 3339, or relative: -1h), oldest first. Each keeps its full payload and its id.",
		Example: "  herokuevents deadletters:redrive -a my-app\n  herokuevents deadletters:redrive 12 13 -a my-app\n" +
			"  herokuevents deadletters:redrive --publication systemStatus --from -2h --to -1h -a my-app",
		RunE: func(cmd *cobra.Command, args []string) error {
			if pub != "" || from != "" || to != "" {
				if len(args) > 0 {
					return fmt.Errorf("give IDs, or --publication/--from/--to, not both")
				}
				for _, v := range []string{from, to} {
					if _, err := replay.ParseTime(v, time.Now()); v != "" && err != nil {
						return err
					}
				}
			}
			c, err := f.connect(cmd.Context())
			if err != nil {
				return err
			}
			if pub != "" || from != "" || to != "" {
				var res struct {
					Redriven int `json:"redriven"`
				}
				req := map[string]any{"ids": []string{}, "publication": pub, "from": from, "to": to}
				if err := action(cmd.ErrOrStderr(), "Redriving the selected dead letters", func() error {
					return c.call(cmd.Context(), http.MethodPost, c.path("dead-letters", "redrive"), req, &res)
				}); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s redriven.\n", plural(res.Redriven, "dead letter was", "dead letters were"))
				return nil
			}
			ids := slices.Compact(slices.Sorted(slices.Values(args)))
			n := len(ids)
			if n == 0 {
				var list []deadLetter
				if err := c.call(cmd.Context(), http.MethodGet, deadLettersPath(c), nil, &list); err != nil {
					return err
				}
				if len(list) == 0 {
					fmt.Fprintf(cmd.OutOrStdout(), "No dead letters for app %s.\n", f.app)
					return nil
				}
				n = len(list)
			}
			req := struct {
				IDs []string `json:"ids"`
			}{IDs: ids}
			if req.IDs == nil {
				req.IDs = []string{}
			}
			var res struct {
				Redriven int `json:"redriven"`
			}
			errw := cmd.ErrOrStderr()
			err = action(errw, "Redriving "+plural(n, "dead letter", "dead letters"), func() error {
				return c.call(cmd.Context(), http.MethodPost, c.path("dead-letters", "redrive"), req, &res)
			})
			if err != nil {
				return err
			}
			if res.Redriven != n {
				fmt.Fprintf(errw, "%s redriven.\n", plural(res.Redriven, "dead letter was", "dead letters were"))
			}
			return nil
		},
	}
	f = addAppFlags(cmd)
	cmd.Flags().StringVar(&pub, "publication", "", "only the dead letters bound for this publication")
	cmd.Flags().StringVar(&from, "from", "", "only those dead-lettered at or after (RFC 3339, or relative: -2h)")
	cmd.Flags().StringVar(&to, "to", "", "only those dead-lettered before (RFC 3339, or relative: -1h, now)")
	return cmd
}
