package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/spf13/cobra"
)

func init() {
	register(newStreamsCmd, newStreamsCreateCmd, newStreamsDestroyCmd)
}

// stream is a link subscription → publication as the management API
// returns it; source and target are names.
type stream struct {
	ID     string  `json:"id"`
	Source string  `json:"source"`
	Target string  `json:"target"`
	Filter *string `json:"filter"`
}

// streamRequest is the body of POST streams.
type streamRequest struct {
	Source string `json:"source"`
	Target string `json:"target"`
	Filter string `json:"filter,omitempty"`
}

func newStreamsCmd() *cobra.Command {
	return newListCmd("streams", "List streams (subscription → publication links) of an app", listCmd{
		kind:    "streams",
		path:    "streams",
		headers: []string{"Source", "Target", "Filter"},
		rows: func(raw []byte) ([][]string, error) {
			var streams []stream
			if err := json.Unmarshal(raw, &streams); err != nil {
				return nil, err
			}
			rows := make([][]string, 0, len(streams))
			for _, s := range streams {
				var filter string
				if s.Filter != nil {
					filter = strings.ReplaceAll(strings.TrimSpace(*s.Filter), "\n", " ")
				}
				rows = append(rows, []string{s.Source, s.Target, filter})
			}
			return rows, nil
		},
	})
}

func newStreamsCreateCmd() *cobra.Command {
	var f *appFlags
	var filter string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "streams:create SOURCE TARGET",
		Short: "Stream the events of subscription SOURCE to publication TARGET",
		Example: `  herokuevents streams:create accountChange accountCreated -a my-app \
    -f 'root = if ChangeEventHeader.changeType == "CREATE" { this } else { deleted() }'`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.connect(cmd.Context())
			if err != nil {
				return err
			}
			req := streamRequest{Source: args[0], Target: args[1], Filter: filter}
			msg := fmt.Sprintf("Linking %s to %s", req.Source, req.Target)
			var raw json.RawMessage
			err = action(cmd.ErrOrStderr(), msg, func() error {
				return c.call(cmd.Context(), http.MethodPost, c.path("streams"), req, &raw)
			})
			if err != nil || !asJSON {
				return err
			}
			return printJSON(cmd.OutOrStdout(), raw)
		},
	}
	f = addAppFlags(cmd)
	cmd.Flags().StringVarP(&filter, "filter", "f", "", "Bloblang filter applied to each event (deleted() drops it)")
	cmd.Flags().BoolVarP(&asJSON, "json", "j", false, "output the created stream in json format")
	return cmd
}

func newStreamsDestroyCmd() *cobra.Command {
	var f *appFlags
	var confirm *string
	cmd := &cobra.Command{
		Use:   "streams:destroy SOURCE TARGET",
		Short: "Stop streaming subscription SOURCE to publication TARGET",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			if err := confirmApp(cmd, f.app, *confirm); err != nil {
				return err
			}
			if err := c.checkApp(cmd.Context(), f.app); err != nil {
				return err
			}
			msg := fmt.Sprintf("Unlinking %s from %s", args[0], args[1])
			return action(cmd.ErrOrStderr(), msg, func() error {
				_, err := c.do(cmd.Context(), http.MethodDelete, c.path("streams", args[0], args[1]), nil)
				return err
			})
		},
	}
	f = addAppFlags(cmd)
	confirm = addConfirmFlag(cmd)
	return cmd
}
