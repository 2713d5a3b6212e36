package main

import (
	"errors"
	"strings"

	"github.com/spf13/cobra"
)

func init() { register(newGenerateCmd) }

// generateRequest is the body of POST platforms/generate/subscriptions;
// absent flags are omitted.
type generateRequest struct {
	Name     string `json:"name"`
	Interval string `json:"interval"`
	Mapping  string `json:"mapping"`
	Target   string `json:"target,omitempty"`
	Filter   string `json:"filter,omitempty"`
}

func newGenerateCmd() *cobra.Command {
	var f *appFlags
	var req generateRequest
	cmd := &cobra.Command{
		Use:   "generate NAME",
		Short: "Create an event generator: a subscription that emits the result of a Bloblang mapping on a schedule",
		Long: `Create an event generator: a subscription that emits the result of a Bloblang mapping on a schedule.

INTERVAL is a duration of at least 1s (30s, 1m, 1h30m, also "@every 5m"), which fires at once and then
every interval, or a 5-field cron expression ("*/5 * * * *"), in UTC unless prefixed with "TZ=Area/City ".
MAPPING runs without input; its result is the event's data. Stream the generator to a publication with
--target, or later with streams:create.`,
		Example: `  herokuevents generate my-generator -i 1m -m 'root.timestamp = timestamp_unix()' -a my-app
  herokuevents events:generate systemStatus -i 'TZ=Europe/London 0 9 * * 1-5' \
    -m 'root = {"status": "up", "created_at": timestamp_unix_milli()}' -t statusHook -a my-app`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req.Name = args[0]
			if strings.TrimSpace(req.Interval) == "" {
				return errors.New("--interval must not be empty")
			}
			if strings.TrimSpace(req.Mapping) == "" {
				return errors.New("--mapping must not be empty")
			}
			if req.Filter != "" && req.Target == "" {
				return errFilterNeedsTarget
			}
			return f.create(cmd, "event generator "+req.Name, "generate", "subscriptions", req, nil)
		},
	}
	f = addAppFlags(cmd)
	cmd.Flags().StringVarP(&req.Interval, "interval", "i", "", `schedule: a duration (1m), "@every 5m" or a cron expression (required)`)
	cmd.Flags().StringVarP(&req.Mapping, "mapping", "m", "", "Bloblang mapping that builds each event's data (required)")
	cmd.Flags().StringVarP(&req.Target, "target", "t", "", "publication (name or id) to stream the events to")
	cmd.Flags().StringVarP(&req.Filter, "filter", "f", "", "Bloblang filter of the stream to --target (deleted() drops)")
	_ = cmd.MarkFlagRequired("interval")
	_ = cmd.MarkFlagRequired("mapping")
	return cmd
}
