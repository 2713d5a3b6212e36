package main

import (
	"fmt"
	"net/http"
	"slices"

	"github.com/spf13/cobra"
)

func init() { register(newCredentialsRotateCmd) }

func newCredentialsRotateCmd() *cobra.Command {
	var f *appFlags
	cmd := &cobra.Command{
		Use:   "credentials:rotate",
		Short: "Issue new API and publish keys for the app (the old ones stop working at once)",
		Long: `Issue new credentials for the app: new HEROKUEVENTS_API_URL,
HEROKUEVENTS_PUBLISH_URL and HEROKUEVENTS_SUBSCRIBE_URL. The old keys stop
working at once. When Heroku provisioned the add-on, the new config vars are
set on the app through the Platform API (the app restarts); otherwise set
them yourself. The new values are printed as NAME=value lines.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			confirm, _ := cmd.Flags().GetString("confirm")
			if err := confirmApp(cmd, f.app, confirm); err != nil {
				return err
			}
			c, err := f.connect(cmd.Context())
			if err != nil {
				return err
			}
			var out struct {
				Config  map[string]string `json:"config"`
				Message string            `json:"message"`
			}
			err = action(cmd.ErrOrStderr(), "Rotating the credentials of ⬢ "+f.app, func() error {
				return c.call(cmd.Context(), http.MethodPost, c.path("credentials", "rotate"), nil, &out)
			})
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.ErrOrStderr(), out.Message)
			names := make([]string, 0, len(out.Config))
			for k := range out.Config {
				names = append(names, k)
			}
			slices.Sort(names)
			for _, k := range names {
				fmt.Fprintf(cmd.OutOrStdout(), "%s=%s\n", k, out.Config[k])
			}
			return nil
		},
	}
	f = addAppFlags(cmd)
	addConfirmFlag(cmd)
	return cmd
}
