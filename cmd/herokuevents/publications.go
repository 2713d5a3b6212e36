package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/spf13/cobra"
)

func init() {
	register(newPublicationsCmd, newPublicationsInfoCmd, newPublicationsDestroyCmd, newPublicationsWebhookCreateCmd)
}

// publication is a publication as the management API returns it.
type publication struct {
	ID             string `json:"id"`
	Name           string `json:"name"`
	Platform       string `json:"platform"`
	Params         params `json:"params"`
	Sources        []link `json:"sources"`
	Disabled       bool   `json:"disabled"`
	DisabledReason string `json:"disabled_reason"`
	Extra          struct {
		SigningSecret string `json:"signing_secret"`
	} `json:"extra"`
}

// fields returns the info block of p.
func (p publication) fields() []field {
	fields := resourceFields(p.ID, p.Name, p.Platform, p.Params)
	fields = append(fields, field{Key: "Sources", Values: linkNames(p.Sources)})
	if p.Disabled {
		reason := p.DisabledReason
		if reason == "" {
			reason = "yes"
		}
		fields = append(fields, field{Key: "Disabled", Values: values(reason)})
	}
	return fields
}

func newPublicationsCmd() *cobra.Command {
	return newListCmd("publications", "List publications (targets of events) of an app", listCmd{
		kind:    "publications",
		path:    "publications",
		headers: []string{"Name", "Platform", "Details"},
		rows: func(raw []byte) ([][]string, error) {
			var pubs []publication
			if err := json.Unmarshal(raw, &pubs); err != nil {
				return nil, err
			}
			rows := make([][]string, 0, len(pubs))
			for _, p := range pubs {
				rows = append(rows, []string{p.Name, p.Platform, p.Params.details()})
			}
			return rows, nil
		},
	})
}

func newPublicationsInfoCmd() *cobra.Command {
	var f *appFlags
	cmd := &cobra.Command{
		Use:   "publications:info PUB_NAME_OR_ID",
		Short: "Show a publication",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.connect(cmd.Context())
			if err != nil {
				return err
			}
			var p publication
			if err := c.call(cmd.Context(), http.MethodGet, c.path("publications", args[0]), nil, &p); err != nil {
				return err
			}
			printFields(cmd.OutOrStdout(), p.fields())
			return nil
		},
	}
	f = addAppFlags(cmd)
	return cmd
}

func newPublicationsDestroyCmd() *cobra.Command {
	return newDestroyCmd("publications:destroy PUB_NAME_OR_ID", "Unlink and destroy a publication", "publication", "publications")
}

// webhookPublicationRequest is the body of POST platforms/webhook/publications;
// absent flags are omitted.
type webhookPublicationRequest struct {
	Name   string `json:"name"`
	URL    string `json:"url"`
	Token  string `json:"token,omitempty"`
	Source string `json:"source,omitempty"`
	Filter string `json:"filter,omitempty"`
}

func newPublicationsWebhookCreateCmd() *cobra.Command {
	var f *appFlags
	var req webhookPublicationRequest
	cmd := &cobra.Command{
		Use:   "publications:webhook:create NAME",
		Short: "Create a webhook publication: events are POSTed to URL as signed CloudEvents",
		Example: `  herokuevents publications:webhook:create systemStatus -u https://my-app.herokuapp.com/webhooks -a my-app
  herokuevents publications:webhook:create accountCreated -u https://example.com/hook -t s3cret \
    -s accountChange -f 'root = if ChangeEventHeader.changeType == "CREATE" { this } else { deleted() }' -a my-app`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req.Name = args[0]
			if err := validWebhookURL(req.URL); err != nil {
				return err
			}
			if req.Filter != "" && req.Source == "" {
				return errFilterNeedsSource
			}
			var p publication
			if err := f.create(cmd, "publication "+req.Name, "webhook", "publications", req, &p); err != nil {
				return err
			}
			if s := p.Extra.SigningSecret; s != "" {
				out := cmd.OutOrStdout()
				fmt.Fprintf(out, "Signing secret (shown once): %s\n", s)
				fmt.Fprintln(out, "Receivers verify the Standard Webhooks signature (headers webhook-id, webhook-timestamp, webhook-signature) with it; keep it secret.")
			}
			return nil
		},
	}
	f = addAppFlags(cmd)
	cmd.Flags().StringVarP(&req.URL, "url", "u", "", "URL the events are POSTed to (required)")
	cmd.Flags().StringVarP(&req.Token, "token", "t", "", "access token sent in the Authorization header")
	cmd.Flags().StringVarP(&req.Source, "source", "s", "", "subscription (name or id) to stream from")
	cmd.Flags().StringVarP(&req.Filter, "filter", "f", "", "Bloblang filter of the stream from --source (deleted() drops)")
	_ = cmd.MarkFlagRequired("url")
	return cmd
}

// validWebhookURL checks that raw is an absolute http(s) URL; the API
// applies the address rules.
func validWebhookURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return errors.New("--url must be an absolute http or https URL")
	}
	return nil
}
