package main

import (
	"fmt"
	"net/http"
	"net/url"

	"github.com/spf13/cobra"
)

func init() {
	register(newAddonsCmd, newAddonsAttachCmd, newAddonsDetachCmd)
}

// ref is an {"id","name"} pair.
type ref struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// attachment is an add-on attachment as the platform API returns it.
type attachment struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Partner    string `json:"partner"`
	ResourceID string `json:"resource_id"`
	Addon      ref    `json:"addon"`
	HerokuID   string `json:"heroku_id"`
	App        ref    `json:"app"`
	Gone       bool   `json:"gone"`
	GoneReason string `json:"gone_reason"`
	Queued     int    `json:"queued"`
}

// addonAppFlags are -a/--app (required) and --platform-url.
type addonAppFlags struct {
	app      string
	platform *platformFlag
}

func addAddonAppFlags(cmd *cobra.Command) *addonAppFlags {
	f := &addonAppFlags{platform: addPlatformFlag(cmd)}
	cmd.Flags().StringVarP(&f.app, "app", "a", "", "app to run command against (required)")
	_ = cmd.MarkFlagRequired("app")
	return f
}

func (f *addonAppFlags) path(segments ...string) string {
	p := "/v1/apps/" + url.PathEscape(f.app) + "/addon-attachments"
	for _, s := range segments {
		p += "/" + url.PathEscape(s)
	}
	return p
}

func newAddonsCmd() *cobra.Command {
	var f *addonAppFlags
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "addons",
		Short: "List the partner add-ons attached to an app",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := f.platform.client()
			if err != nil {
				return err
			}
			raw, err := c.do(cmd.Context(), http.MethodGet, f.path(), nil)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return printJSON(out, raw)
			}
			var atts []attachment
			if err := c.decode(raw, &atts); err != nil {
				return err
			}
			if len(atts) == 0 {
				fmt.Fprintf(out, "No partner add-ons attached to app %s.\n", f.app)
				return nil
			}
			printHeader(out, "Partner add-ons of app "+f.app)
			rows := make([][]string, 0, len(atts))
			for _, a := range atts {
				state := "active"
				if a.Gone {
					state = "gone"
				}
				rows = append(rows, []string{a.Name, a.Partner, a.Addon.Name, a.ResourceID, state})
			}
			printTable(out, []string{"Name", "Partner", "Resource", "Resource Id", "State"}, rows)
			return nil
		},
	}
	f = addAddonAppFlags(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "output in json format")
	return cmd
}

// attachRequest is the body of POST /v1/apps/{app}/addon-attachments.
type attachRequest struct {
	Partner    string `json:"partner"`
	ResourceID string `json:"resource_id"`
	HerokuID   string `json:"heroku_id,omitempty"`
	AppID      string `json:"app_id,omitempty"`
	As         string `json:"as,omitempty"`
	LogToken   string `json:"log_token,omitempty"`
}

func newAddonsAttachCmd() *cobra.Command {
	var f *addonAppFlags
	var req attachRequest
	cmd := &cobra.Command{
		Use:   "addons:attach PARTNER_ID",
		Short: "Attach a partner's add-on resource to an app (notifies the partner when it opted in to attach_notify)",
		Example: `  herokuevents addons:attach myaddon -a example --resource-id res-42
  herokuevents addons:attach myaddon -a example --resource-id res-42 --heroku-id app123@heroku.com --as MYADDON_CYAN`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req.Partner = args[0]
			c, err := f.platform.client()
			if err != nil {
				return err
			}
			var a attachment
			err = action(cmd.ErrOrStderr(), fmt.Sprintf("Attaching %s to %s", req.Partner, f.app), func() error {
				return c.call(cmd.Context(), http.MethodPost, f.path(), req, &a)
			})
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "Attached %s (resource %s) as %s to %s (%s)\n", a.Addon.Name, a.ResourceID, a.Name, a.App.Name, a.HerokuID)
			if a.Queued > 0 {
				fmt.Fprintf(out, "Attach notification queued for %s\n", a.Partner)
			}
			return nil
		},
	}
	f = addAddonAppFlags(cmd)
	cmd.Flags().StringVar(&req.ResourceID, "resource-id", "", "the id the partner returned at provisioning (required)")
	cmd.Flags().StringVar(&req.HerokuID, "heroku-id", "", "the app's heroku id in notifications (default APP@heroku.com)")
	cmd.Flags().StringVar(&req.AppID, "app-id", "", "the app's uuid (default derived from the heroku id)")
	cmd.Flags().StringVar(&req.As, "as", "", "name of the attachment (default PARTNER_COLOR, e.g. MYADDON_CYAN)")
	cmd.Flags().StringVar(&req.LogToken, "log-token", "", "the app's log token (default a new one for entitled partners)")
	_ = cmd.MarkFlagRequired("resource-id")
	return cmd
}

func newAddonsDetachCmd() *cobra.Command {
	var f *addonAppFlags
	cmd := &cobra.Command{
		Use:   "addons:detach ATTACHMENT_NAME",
		Short: "Detach a partner add-on from an app (notifies the partner when it opted in to attach_notify)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.platform.client()
			if err != nil {
				return err
			}
			var a attachment
			err = action(cmd.ErrOrStderr(), fmt.Sprintf("Detaching %s from %s", args[0], f.app), func() error {
				return c.call(cmd.Context(), http.MethodDelete, f.path(args[0]), nil, &a)
			})
			if err != nil {
				return err
			}
			if a.Queued > 0 {
				fmt.Fprintf(cmd.OutOrStdout(), "Detach notification queued for %s\n", a.Partner)
			}
			return nil
		},
	}
	f = addAddonAppFlags(cmd)
	return cmd
}
