package main

import (
	"encoding/json"
	"net/http"
	"slices"
	"time"

	"github.com/spf13/cobra"
)

func init() {
	register(newPublicationsCmd, newPublicationsInfoCmd, newPublicationsDestroyCmd)
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
	// Lifecycle (lifecycle.go).
	Paused              bool          `json:"paused"`
	PausedAt            time.Time     `json:"paused_at"`
	Delivery            *deliveryConf `json:"delivery"`
	PreviousSecretUntil time.Time     `json:"previous_secret_expires_at"`
	// Health is reported with the delivery log (journal.go).
	Health *health `json:"health"`
	// OAuth2 and MTLS: a webhook publication's credentials (webhookauth.go).
	OAuth2 *oauth2Info `json:"oauth2"`
	MTLS   *mtlsInfo   `json:"mtls"`
	// Order: an ordered publication's key and blocked lanes (ordered.go).
	Order *orderInfo `json:"order"`
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
	fields = append(fields, p.authFields()...)
	fields = append(fields, p.orderFields()...)
	return p.Health.fields(append(fields, p.lifecycleFields()...), time.Now())
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
			withHealth := slices.ContainsFunc(pubs, func(p publication) bool { return p.Health != nil })
			rows := make([][]string, 0, len(pubs))
			for _, p := range pubs {
				row := []string{p.Name, p.Platform, p.Params.details()}
				if withHealth {
					row = append(row, p.Health.state(), p.Health.lastHour())
				}
				rows = append(rows, row)
			}
			return rows, nil
		},
		headersOf: func(rows [][]string) []string { // the health columns come with the delivery log
			if len(rows) > 0 && len(rows[0]) > 3 {
				return []string{"Name", "Platform", "Details", "State", "Last Hour"}
			}
			return nil
		},
	})
}

func newPublicationsInfoCmd() *cobra.Command {
	var f *appFlags
	var asJSON *bool
	cmd := &cobra.Command{
		Use:   "publications:info PUB_NAME_OR_ID",
		Short: "Show a publication",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.connect(cmd.Context())
			if err != nil {
				return err
			}
			raw, err := c.do(cmd.Context(), http.MethodGet, c.path("publications", args[0]), nil)
			if err != nil {
				return err
			}
			if *asJSON {
				return printJSON(cmd.OutOrStdout(), raw)
			}
			var p publication
			if err := c.decode(raw, &p); err != nil {
				return err
			}
			printFields(cmd.OutOrStdout(), p.fields())
			return nil
		},
	}
	f = addAppFlags(cmd)
	asJSON = infoJSON(cmd)
	return cmd
}

func newPublicationsDestroyCmd() *cobra.Command {
	return newDestroyCmd("publications:destroy PUB_NAME_OR_ID", "Unlink and destroy a publication", "publication", "publications")
}
