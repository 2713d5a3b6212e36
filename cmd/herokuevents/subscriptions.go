package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/herokuevents/herokuevents/shared/platform/catalog"
	"github.com/spf13/cobra"
)

func init() {
	register(newSubscriptionsCmd, newSubscriptionsInfoCmd, newSubscriptionsDestroyCmd, newSubscriptionsUpdateCmd)
}

// link is the other end of a stream as embedded in a subscription
// (targets) or a publication (sources).
type link struct {
	ID       string  `json:"id"`
	Name     string  `json:"name"`
	Platform string  `json:"platform"`
	Params   params  `json:"params"`
	Filter   *string `json:"filter"`
}

// sourceState is the runtime state of a polled subscription. The API sends
// an object; a bare string is taken as the status.
type sourceState struct {
	Status       string    `json:"status"`
	LastError    string    `json:"last_error"`
	CheckpointAt time.Time `json:"checkpoint_at"`
}

// UnmarshalJSON accepts {"status","last_error"} or a string.
func (s *sourceState) UnmarshalJSON(b []byte) error {
	var str string
	if json.Unmarshal(b, &str) == nil {
		*s = sourceState{Status: str}
		return nil
	}
	type plain sourceState
	return json.Unmarshal(b, (*plain)(s))
}

// subscription is a subscription as the management API returns it.
type subscription struct {
	ID        string       `json:"id"`
	Name      string       `json:"name"`
	Platform  string       `json:"platform"`
	Params    params       `json:"params"`
	Targets   []link       `json:"targets"`
	Replay    string       `json:"replay"`
	State     *sourceState `json:"state"`
	LastError string       `json:"last_error"`
	// Health is reported with the delivery log (journal.go): the
	// deliveries to its targets.
	Health *health `json:"health"`
	// Pull: its events are kept for HEROKUEVENTS_SUBSCRIBE_URL, with
	// their backlog.
	Pull        bool         `json:"pull"`
	PullBacklog *pullBacklog `json:"pull_backlog"`
	// SalesforceUsage: the org's event deliveries in the last 24 h.
	SalesforceUsage *struct {
		Org          string `json:"org"`
		Delivered24h int64  `json:"delivered_24h"`
		Allocation   int64  `json:"allocation"`
		Warning      string `json:"warning"`
	} `json:"salesforce_usage"`
}

// pullBacklog is what a pull subscription keeps.
type pullBacklog struct {
	Pending int       `json:"pending"`
	Leased  int       `json:"leased"`
	Oldest  time.Time `json:"oldest"`
}

// fields renders the pull lines of a subscription's info: none when pull
// is off, so that the original product's info output stays as it was.
func (b *pullBacklog) fields(pull bool, now time.Time) []field {
	if !pull {
		return nil
	}
	out := []field{{Key: "Pull", Values: values("on: GET $HEROKUEVENTS_SUBSCRIBE_URL/<name>")}}
	if b != nil {
		v := fmt.Sprintf("%d events (%d leased, awaiting acknowledgement)", b.Pending, b.Leased)
		if !b.Oldest.IsZero() {
			v += ", oldest " + checkpointAge(b.Oldest, now)
		}
		out = append(out, field{Key: "Pull Backlog", Values: values(v)})
	}
	return out
}

// polled reports whether herokuevents polls the platform (and so keeps a
// state), as the platform says of itself.
func polled(name string) bool {
	for _, p := range catalog.All() {
		if p.Name == name {
			return p.Subscription != nil && p.Subscription.Polled
		}
	}
	return false
}

// resourceFields are the info fields shared by subscriptions and
// publications: Id, Name, Platform and every param.
func resourceFields(id, name, platform string, p params) []field {
	fields := []field{
		{Key: "Id", Values: values(id)},
		{Key: "Name", Values: values(name)},
		{Key: "Platform", Values: values(platform)},
	}
	for _, kv := range p {
		fields = append(fields, field{Key: titleKey(kv.Key), Values: values(kv.Value)})
	}
	return fields
}

// linkNames lists the names of links, marking filtered ones.
func linkNames(links []link) []string {
	var names []string
	for _, l := range links {
		n := l.Name
		if n == "" {
			n = l.ID
		}
		if l.Filter != nil && *l.Filter != "" {
			n += " (filtered)"
		}
		names = append(names, n)
	}
	return names
}

// fields returns the info block of s.
func (s subscription) fields() []field {
	fields := resourceFields(s.ID, s.Name, s.Platform, s.Params)
	fields = append(fields, field{Key: "Targets", Values: linkNames(s.Targets)}, field{Key: "Replay", Values: values(s.Replay)})
	fields = append(fields, s.PullBacklog.fields(s.Pull, time.Now())...)
	if u := s.SalesforceUsage; u != nil {
		v := fmt.Sprintf("%d events delivered by org %s in the last 24 h (one per event and channel, however many subscriptions share it)", u.Delivered24h, u.Org)
		if u.Allocation > 0 {
			v = fmt.Sprintf("%d of %d events (%d%%) delivered by org %s in the last 24 h (one per event and channel, however many subscriptions share it)",
				u.Delivered24h, u.Allocation, u.Delivered24h*100/u.Allocation, u.Org)
		}
		fields = append(fields, field{Key: "Salesforce Usage", Values: values(v)})
		if u.Warning != "" {
			fields = append(fields, field{Key: "Warning", Values: values(u.Warning)})
		}
	}
	if polled(s.Platform) {
		lastErr := s.LastError
		var status string
		if s.State != nil {
			status = s.State.Status
			if s.State.LastError != "" {
				lastErr = s.State.LastError
			}
		}
		fields = append(fields, field{Key: "State", Values: values(status)}, field{Key: "Last Error", Values: values(lastErr)})
		if s.State != nil && !s.State.CheckpointAt.IsZero() {
			fields = append(fields, field{Key: "Checkpoint", Values: values(checkpointAge(s.State.CheckpointAt, time.Now()))})
		}
	}
	return s.Health.fields(fields, time.Now())
}

// checkpointAge renders when a subscription last stored its position, as
// an age and the UTC time: "42s ago (2026-01-02T03:04:05Z)".
func checkpointAge(at, now time.Time) string {
	d := max(now.Sub(at), 0)
	var age string
	switch {
	case d < time.Minute:
		age = fmt.Sprintf("%ds ago", int(d/time.Second))
	case d < time.Hour:
		age = fmt.Sprintf("%dm ago", int(d/time.Minute))
	case d < 48*time.Hour:
		age = fmt.Sprintf("%dh%02dm ago", int(d/time.Hour), int(d%time.Hour/time.Minute))
	default:
		age = fmt.Sprintf("%dd ago", int(d/(24*time.Hour)))
	}
	return age + " (" + at.UTC().Format(time.RFC3339) + ")"
}

// listCmd is what a list command needs to know about its resource.
type listCmd struct {
	kind    string // plural, as in "No Heroku Events <kind> for app X."
	path    string // collection below the tenant
	headers []string
	rows    func(raw []byte) ([][]string, error)
	// headersOf, when set and not nil for the rows, replaces headers
	// (columns shown only when the API reports them).
	headersOf func(rows [][]string) []string
}

// newListCmd builds a list command: a table, or the raw array with --json.
func newListCmd(use, short string, l listCmd) *cobra.Command {
	var asJSON bool
	var f *appFlags
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := f.connect(cmd.Context())
			if err != nil {
				return err
			}
			raw, err := c.do(cmd.Context(), http.MethodGet, c.path(l.path), nil)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return printJSON(out, raw)
			}
			rows, err := l.rows(raw)
			if err != nil {
				return fmt.Errorf("decode herokuevents API response: %w", err)
			}
			if len(rows) == 0 {
				fmt.Fprintf(out, "No Heroku Events %s for app %s.\n", l.kind, f.app)
				return nil
			}
			headers := l.headers
			if l.headersOf != nil && l.headersOf(rows) != nil {
				headers = l.headersOf(rows)
			}
			printHeader(out, fmt.Sprintf("Heroku Events %s for app %s", l.kind, f.app))
			printTable(out, headers, rows)
			return nil
		},
	}
	f = addAppFlags(cmd)
	cmd.Flags().BoolVarP(&asJSON, "json", "j", false, "output in json format")
	return cmd
}

func newSubscriptionsCmd() *cobra.Command {
	return newListCmd("subscriptions", "List subscriptions (sources of events) of an app", listCmd{
		kind:    "subscriptions",
		path:    "subscriptions",
		headers: []string{"Name", "Platform", "Details"},
		rows: func(raw []byte) ([][]string, error) {
			var subs []subscription
			if err := json.Unmarshal(raw, &subs); err != nil {
				return nil, err
			}
			rows := make([][]string, 0, len(subs))
			for _, s := range subs {
				rows = append(rows, []string{s.Name, s.Platform, s.Params.details()})
			}
			return rows, nil
		},
	})
}

func newSubscriptionsInfoCmd() *cobra.Command {
	var f *appFlags
	var asJSON *bool
	cmd := &cobra.Command{
		Use:   "subscriptions:info SUB_NAME_OR_ID",
		Short: "Show a subscription",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.connect(cmd.Context())
			if err != nil {
				return err
			}
			raw, err := c.do(cmd.Context(), http.MethodGet, c.path("subscriptions", args[0]), nil)
			if err != nil {
				return err
			}
			if *asJSON {
				return printJSON(cmd.OutOrStdout(), raw)
			}
			var s subscription
			if err := c.decode(raw, &s); err != nil {
				return err
			}
			printFields(cmd.OutOrStdout(), s.fields())
			return nil
		},
	}
	f = addAppFlags(cmd)
	asJSON = infoJSON(cmd)
	return cmd
}

func newSubscriptionsDestroyCmd() *cobra.Command {
	return newDestroyCmd("subscriptions:destroy SUB_NAME_OR_ID", "Destroy a subscription and its streams", "subscription", "subscriptions")
}

// newDestroyCmd builds the destroy command of subscriptions or publications.
func newDestroyCmd(use, short, kind, collection string) *cobra.Command {
	var f *appFlags
	var confirm *string
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.ExactArgs(1),
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
			msg := fmt.Sprintf("Destroying %s %s on %s", kind, args[0], f.app)
			return action(cmd.ErrOrStderr(), msg, func() error {
				_, err := c.do(cmd.Context(), http.MethodDelete, c.path(collection, args[0]), nil)
				return err
			})
		},
	}
	f = addAppFlags(cmd)
	confirm = addConfirmFlag(cmd)
	return cmd
}

func newSubscriptionsUpdateCmd() *cobra.Command {
	var f *appFlags
	var pull bool
	var retention string
	cmd := &cobra.Command{
		Use:   "subscriptions:update SUB_NAME_OR_ID",
		Short: "Change a subscription: whether its events are kept for pulling, how long they are archived",
		Long: `Change a subscription. --pull keeps every event of the subscription (beside its streams) for the app
to GET from $HEROKUEVENTS_SUBSCRIBE_URL/<name>; --pull=false stops, and drops what was kept.
--retention sets how long its accepted events are archived for replay (default 168h).`,
		Example: `  herokuevents subscriptions:update orders --pull -a my-app
  herokuevents subscriptions:update orders --retention 72h -a my-app
  curl -s "$HEROKUEVENTS_SUBSCRIBE_URL/orders"                    # one event, or an empty body
  curl -s "$HEROKUEVENTS_SUBSCRIBE_URL/orders?max=10&wait=20s"    # a batch, leased until acknowledged`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			body := map[string]any{}
			if cmd.Flags().Changed("pull") {
				body["pull"] = pull
			}
			if retention != "" {
				body["retention"] = retention
			}
			if len(body) == 0 {
				return fmt.Errorf("nothing to change: give --pull (or --pull=false) or --retention")
			}
			c, err := f.connect(cmd.Context())
			if err != nil {
				return err
			}
			return action(cmd.ErrOrStderr(), "Updating subscription "+args[0], func() error {
				return c.call(cmd.Context(), http.MethodPatch, c.path("subscriptions", args[0]), body, nil)
			})
		},
	}
	f = addAppFlags(cmd)
	cmd.Flags().BoolVar(&pull, "pull", false, "keep the events for GET $HEROKUEVENTS_SUBSCRIBE_URL/<name> (--pull=false: stop and drop them)")
	cmd.Flags().StringVar(&retention, "retention", "", "how long the events are archived for replay (1h to 720h)")
	return cmd
}
