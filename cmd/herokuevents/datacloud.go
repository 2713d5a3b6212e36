package main

import (
	"errors"
	"fmt"
	"regexp"

	"github.com/spf13/cobra"
)

func init() { register(newPublicationsDataCloudCreateCmd) }

// ingestionName is the shape of an Ingestion API connector or object name.
var ingestionName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)

// dataCloudPublicationRequest is the body of POST
// platforms/datacloud/publications; absent flags are omitted.
type dataCloudPublicationRequest struct {
	Name      string `json:"name"`
	Connector string `json:"connector"`
	Object    string `json:"object"`
	OrgName   string `json:"org_name"`
	Source    string `json:"source,omitempty"`
	Filter    string `json:"filter,omitempty"`
}

func newPublicationsDataCloudCreateCmd() *cobra.Command {
	var f *appFlags
	var req dataCloudPublicationRequest
	var alias, orgName string
	cmd := &cobra.Command{
		Use:   "publications:datacloud:create NAME",
		Short: "Send events as records to a Data Cloud Ingestion API object of an authorized org",
		Long: `Send each event as one record to the object OBJECT of the Data Cloud Ingestion API source (connector)
CONNECTOR, in the org authorized as ALIAS (authorizations:salesforce:create; its connected app needs the
cdp_ingest_api scope). Event data is the record: a JSON object carrying every field of the object's schema
(use "" or null for none); Avro JSON unions ({"string": "x"}) are unwrapped. Data Cloud applies accepted
records within minutes, at least once.`,
		Example: `  herokuevents publications:datacloud:create highPriorityOrders -c salesConnector --object HighPriorityOrder -A my-org -a my-app
  curl -X POST "$HEROKUEVENTS_PUBLISH_URL/highPriorityOrders" -H 'Content-Type: application/json' \
    -d '{"OrderId": "801xx0000001", "TotalValue": 150000, "Status": "New"}'`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req.Name = args[0]
			switch {
			case alias != "" && orgName != "" && alias != orgName:
				return fmt.Errorf("--org-alias %q and --org-name %q differ: give one", alias, orgName)
			case alias != "":
				req.OrgName = alias
			default:
				req.OrgName = orgName
			}
			if req.OrgName == "" {
				return errors.New(`required flag "org-alias" not set: the alias of the authorization (-A)`)
			}
			if !ingestionName.MatchString(req.Connector) {
				return fmt.Errorf("--connector %q: use the Ingestion API source name (letters, digits, '_')", req.Connector)
			}
			if !ingestionName.MatchString(req.Object) {
				return fmt.Errorf("--object %q: use an object name of the source's schema (letters, digits, '_')", req.Object)
			}
			if req.Filter != "" && req.Source == "" {
				return errFilterNeedsSource
			}
			return f.create(cmd, "publication "+req.Name, "datacloud", "publications", req, nil)
		},
	}
	f = addAppFlags(cmd)
	fl := cmd.Flags()
	fl.StringVarP(&req.Connector, "connector", "c", "", "Ingestion API source (connector) name (required)")
	fl.StringVar(&req.Object, "object", "", "object of the source's schema (required)")
	fl.StringVarP(&alias, "org-alias", "A", "", "alias of the authorization of the org (required)")
	fl.StringVarP(&orgName, "org-name", "o", "", "same as --org-alias (v0.0.1 name)")
	fl.StringVarP(&req.Source, "source", "s", "", "subscription (name or id) to stream from")
	fl.StringVarP(&req.Filter, "filter", "f", "", "Bloblang filter of the stream from --source (deleted() drops)")
	_ = cmd.MarkFlagRequired("connector")
	_ = cmd.MarkFlagRequired("object")
	return cmd
}
