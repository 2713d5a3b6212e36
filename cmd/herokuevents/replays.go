package main

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/herokuevents/herokuevents/shared/replay"
)

func init() {
	register(newReplayCmd, newReplaysCmd, newReplaysInfoCmd, newReplaysCancelCmd)
}

// replayJob is a replay as the management API shows it.
type replayJob struct {
	ID           string    `json:"id"`
	Subscription string    `json:"subscription"`
	Publication  string    `json:"publication"`
	From         time.Time `json:"from"`
	To           time.Time `json:"to"`
	Rate         float64   `json:"rate"`
	State        string    `json:"state"`
	Sent         int       `json:"sent"`
	Total        *int      `json:"total"`
	Failed       int       `json:"failed"`
	LastError    string    `json:"last_error"`
	CreatedAt    time.Time `json:"created_at"`
	StartedAt    time.Time `json:"started_at"`
	FinishedAt   time.Time `json:"finished_at"`
}

func (j replayJob) window() string {
	return j.From.UTC().Format(time.RFC3339) + " → " + j.To.UTC().Format(time.RFC3339)
}

func (j replayJob) progress() string {
	if j.Total == nil {
		return strconv.Itoa(j.Sent) + "/?"
	}
	return fmt.Sprintf("%d/%d", j.Sent, *j.Total)
}

func (j replayJob) target() string {
	if j.Publication == "" {
		return "(its streams)"
	}
	return j.Publication
}

func rateText(r float64) string { return strconv.FormatFloat(r, 'f', -1, 64) + "/s" }

func newReplayCmd() *cobra.Command {
	var f *appFlags
	var from, to, pub, rate string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "replay SUB_NAME_OR_ID",
		Short: "Send a subscription's archived events of a time window again",
		Long: `Send the events a subscription accepted between --from and --to again, in their original order,
through the subscription's streams (their filters applied again), or only to --publication. Each
event keeps its id and carries the CloudEvents extension attribute replayed (the replay's id).
Times are RFC 3339 or relative to now (-1h, -90m). At most --rate events per second are sent.
Follow it with replays:info, stop it with replays:cancel.`,
		Example: `  herokuevents replay orders --from -2h --to -1h -a my-app
  herokuevents replay orders --from 2026-01-02T10:00:00Z --to 2026-01-02T10:05:00Z --publication audit --rate 50/s -a my-app`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			now := time.Now()
			if from == "" || to == "" {
				return fmt.Errorf("give the window to replay: --from and --to")
			}
			for _, v := range []string{from, to} {
				if _, err := replay.ParseTime(v, now); err != nil {
					return err
				}
			}
			body := map[string]any{"from": from, "to": to}
			if rate != "" {
				r, err := replay.ParseRate(rate)
				if err != nil {
					return err
				}
				body["rate"] = r
			}
			if pub != "" {
				body["publication"] = pub
			}
			c, err := f.connect(cmd.Context())
			if err != nil {
				return err
			}
			var raw []byte
			err = action(cmd.ErrOrStderr(), "Starting a replay of "+args[0], func() error {
				raw, err = c.do(cmd.Context(), http.MethodPost, c.path("subscriptions", args[0], "replays"), body)
				return err
			})
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), raw)
			}
			var j replayJob
			if err := c.decode(raw, &j); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Replay %s of %s to %s, %s at %s.\n", j.ID, j.Subscription, j.target(), j.window(), rateText(j.Rate))
			fmt.Fprintf(cmd.ErrOrStderr(), "Follow it with: herokuevents replays:info %s -a %s\n", j.ID, f.app)
			return nil
		},
	}
	f = addAppFlags(cmd)
	fl := cmd.Flags()
	fl.StringVar(&from, "from", "", "start of the window, included (RFC 3339, or relative: -1h)")
	fl.StringVar(&to, "to", "", "end of the window, excluded (RFC 3339, or relative: -30m, now)")
	fl.StringVar(&pub, "publication", "", "send only to this publication (name or id) instead of the streams")
	fl.StringVar(&rate, "rate", "", "most events per second (100/s by default; 6000/m also reads)")
	fl.BoolVarP(&asJSON, "json", "j", false, "output in json format")
	return cmd
}

func newReplaysCmd() *cobra.Command {
	var f *appFlags
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "replays",
		Short: "List the replays of an app, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := f.connect(cmd.Context())
			if err != nil {
				return err
			}
			raw, err := c.do(cmd.Context(), http.MethodGet, c.path("replays"), nil)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return printJSON(out, raw)
			}
			var list []replayJob
			if err := c.decode(raw, &list); err != nil {
				return err
			}
			if len(list) == 0 {
				fmt.Fprintf(out, "No replays for app %s.\n", f.app)
				return nil
			}
			rows := make([][]string, 0, len(list))
			for _, j := range list {
				rows = append(rows, []string{j.ID, j.Subscription, j.target(), j.window(), j.State, j.progress(), rateText(j.Rate)})
			}
			printHeader(out, fmt.Sprintf("Replays for app %s", f.app))
			printTable(out, []string{"Id", "Subscription", "To", "Window", "State", "Sent", "Rate"}, rows)
			return nil
		},
	}
	f = addAppFlags(cmd)
	cmd.Flags().BoolVarP(&asJSON, "json", "j", false, "output in json format")
	return cmd
}

func newReplaysInfoCmd() *cobra.Command {
	var f *appFlags
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "replays:info REPLAY_ID",
		Short: "Show a replay's progress",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.connect(cmd.Context())
			if err != nil {
				return err
			}
			raw, err := c.do(cmd.Context(), http.MethodGet, c.path("replays", args[0]), nil)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return printJSON(out, raw)
			}
			var j replayJob
			if err := c.decode(raw, &j); err != nil {
				return err
			}
			printReplay(cmd, j)
			return nil
		},
	}
	f = addAppFlags(cmd)
	cmd.Flags().BoolVarP(&asJSON, "json", "j", false, "output in json format")
	return cmd
}

func printReplay(cmd *cobra.Command, j replayJob) {
	out := cmd.OutOrStdout()
	printHeader(out, "Replay "+j.ID)
	fields := []field{
		{"Subscription", []string{j.Subscription}}, {"To", []string{j.target()}}, {"Window", []string{j.window()}}, {"Rate", []string{rateText(j.Rate)}},
		{"State", []string{j.State}}, {"Sent", []string{j.progress()}}, {"Failed", []string{strconv.Itoa(j.Failed)}},
		{"Created", []string{j.CreatedAt.UTC().Format(time.RFC3339)}},
	}
	if !j.FinishedAt.IsZero() {
		fields = append(fields, field{"Finished", []string{j.FinishedAt.UTC().Format(time.RFC3339)}})
	}
	if j.LastError != "" {
		fields = append(fields, field{"Last Error", []string{j.LastError}})
	}
	printFields(out, fields)
}

func newReplaysCancelCmd() *cobra.Command {
	var f *appFlags
	cmd := &cobra.Command{
		Use:     "replays:cancel REPLAY_ID",
		Short:   "Stop a running replay (what was sent stays sent)",
		Example: "  herokuevents replays:cancel rp_0123456789abcdef0123 -a my-app",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.connect(cmd.Context())
			if err != nil {
				return err
			}
			var j replayJob
			err = action(cmd.ErrOrStderr(), "Cancelling replay "+args[0], func() error {
				return c.call(cmd.Context(), http.MethodPost, c.path("replays", args[0], "cancel"), nil, &j)
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Replay %s cancelled after %s events.\n", j.ID, j.progress())
			return nil
		},
	}
	f = addAppFlags(cmd)
	return cmd
}
