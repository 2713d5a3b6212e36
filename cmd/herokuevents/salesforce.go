package main

import (
	"fmt"
	"regexp"

	"github.com/spf13/cobra"
)

func init() {
	register(newSubscriptionsSalesforceCreateCmd, newPublicationsSalesforceCreateCmd)
}

// salesforceTopic is the shape of a Salesforce channel; the API checks the kind.
var salesforceTopic = regexp.MustCompile(`^/(event|data)/[A-Za-z][A-Za-z0-9_]*$`)

// salesforceSubscriptionRequest is the body of POST
// platforms/salesforce/subscriptions; absent flags are omitted.
type salesforceSubscriptionRequest struct {
	Name    string `json:"name"`
	Event   string `json:"event"`
	OrgName string `json:"org_name"`
	Replay  string `json:"replay,omitempty"`
	Target  string `json:"target,omitempty"`
	Filter  string `json:"filter,omitempty"`
}

func newSubscriptionsSalesforceCreateCmd() *cobra.Command {
	var f *appFlags
	var req salesforceSubscriptionRequest
	cmd := &cobra.Command{
		Use:   "subscriptions:salesforce:create NAME",
		Short: "Subscribe to a Salesforce platform event or change data capture channel of an authorized org",
		Long: `Subscribe to a Salesforce platform event (/event/Name__e) or change data capture channel
(/data/AccountChangeEvent, /data/ChangeEvents) of the org authorized as ALIAS, over the Pub/Sub API.

Events start with the next one published (--replay latest, the default) or with the oldest one Salesforce
retains, up to 72 hours (--replay earliest). After that the subscription resumes where it stopped. When
Salesforce no longer accepts the stored position (older than 72 hours, or the org moved), it resumes from
the --replay preset and says so in subscriptions:info.`,
		Example: `  herokuevents subscriptions:salesforce:create accountChange -t /data/AccountChangeEvent -A my-org -a my-app
  herokuevents subscriptions:salesforce:create orderCreated -t /event/Order_Created__e -A my-org --replay earliest \
    --target ordersHook --filter 'root = if this.Amount__c.double > 100 { this } else { deleted() }' -a my-app`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req.Name = args[0]
			if !salesforceTopic.MatchString(req.Event) {
				return fmt.Errorf("--topic %q: use a Salesforce channel such as /event/Name__e or /data/AccountChangeEvent", req.Event)
			}
			if req.Replay != "" && req.Replay != "latest" && req.Replay != "earliest" {
				return fmt.Errorf("--replay %q: use latest or earliest", req.Replay)
			}
			if req.Filter != "" && req.Target == "" {
				return errFilterNeedsTarget
			}
			return f.create(cmd, "subscription "+req.Name, "salesforce", "subscriptions", req, nil)
		},
	}
	f = addAppFlags(cmd)
	fl := cmd.Flags()
	fl.StringVarP(&req.Event, "topic", "t", "", "Salesforce channel, e.g. /event/Name__e or /data/AccountChangeEvent (required)")
	fl.StringVarP(&req.OrgName, "org-alias", "A", "", "alias of the authorization of the org (required)")
	fl.StringVar(&req.Replay, "replay", "", "where to start: latest (default) or earliest (the retained 72 h)")
	fl.StringVar(&req.Target, "target", "", "publication (name or id) to stream the events to")
	fl.StringVarP(&req.Filter, "filter", "f", "", "Bloblang filter of the stream to --target (deleted() drops)")
	_ = cmd.MarkFlagRequired("topic")
	_ = cmd.MarkFlagRequired("org-alias")
	return cmd
}

// salesforcePublicationRequest is the body of POST
// platforms/salesforce/publications; absent flags are omitted.
type salesforcePublicationRequest struct {
	Name    string `json:"name"`
	Event   string `json:"event"`
	OrgName string `json:"org_name"`
	Source  string `json:"source,omitempty"`
	Filter  string `json:"filter,omitempty"`
}

func newPublicationsSalesforceCreateCmd() *cobra.Command {
	var f *appFlags
	var req salesforcePublicationRequest
	cmd := &cobra.Command{
		Use:   "publications:salesforce:create NAME",
		Short: "Publish events as a Salesforce platform event of an authorized org",
		Long: `Publish events as the Salesforce platform event TOPIC (/event/Name__e) of the org authorized as ALIAS,
over the Pub/Sub API. Event data is the platform event's fields, plain JSON or Avro JSON with wrapped
unions ({"Status__c": {"string": "up"}}); CreatedDate defaults to the event time.`,
		Example: `  herokuevents publications:salesforce:create systemStatus -t /event/System_Status__e -A my-org -a my-app
  curl -X POST "$HEROKUEVENTS_PUBLISH_URL/systemStatus" -H 'Content-Type: application/json' \
    -d '{"CreatedById": "005xx000001X8Uz", "Context__c": {"string": "up"}}'`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req.Name = args[0]
			if !salesforceTopic.MatchString(req.Event) {
				return fmt.Errorf("--topic %q: use a platform event topic such as /event/Name__e", req.Event)
			}
			if req.Filter != "" && req.Source == "" {
				return errFilterNeedsSource
			}
			return f.create(cmd, "publication "+req.Name, "salesforce", "publications", req, nil)
		},
	}
	f = addAppFlags(cmd)
	fl := cmd.Flags()
	fl.StringVarP(&req.Event, "topic", "t", "", "platform event topic, e.g. /event/Name__e (required)")
	fl.StringVarP(&req.OrgName, "org-alias", "A", "", "alias of the authorization of the org (required)")
	fl.StringVarP(&req.Source, "source", "s", "", "subscription (name or id) to stream from")
	fl.StringVarP(&req.Filter, "filter", "f", "", "Bloblang filter of the stream from --source (deleted() drops)")
	_ = cmd.MarkFlagRequired("topic")
	_ = cmd.MarkFlagRequired("org-alias")
	return cmd
}
