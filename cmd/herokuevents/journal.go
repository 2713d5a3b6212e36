package main

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"
)

func init() {
	register(newDeliveriesCmd, newTraceCmd, newDeliveriesRetryCmd)
}

// attempt is one delivery attempt as the delivery log lists it.
type attempt struct {
	Time          time.Time `json:"time"`
	EventID       string    `json:"event_id"`
	Attempt       int       `json:"attempt"`
	Outcome       string    `json:"outcome"`
	Status        int       `json:"status"`
	LatencyMS     float64   `json:"latency_ms"`
	Response      string    `json:"response"`
	Error         string    `json:"error"`
	NextAttemptAt time.Time `json:"next_attempt_at"`
}

// outcomeLabels are the outcomes as the CLI prints them.
var outcomeLabels = map[string]string{"dead_lettered": "dead letter", "filtered_out": "filtered out"}

func label(s string) string {
	if l, ok := outcomeLabels[s]; ok {
		return l
	}
	return s
}

// statusOf renders the HTTP status and outcome of an attempt: "500 retry".
func statusOf(status int, outcome string) string {
	if status == 0 {
		return label(outcome)
	}
	return strconv.Itoa(status) + " " + label(outcome)
}

// latency renders milliseconds: "0.8 ms", "12 ms", "1.5 s".
func latency(ms float64) string {
	switch {
	case ms >= 1000:
		return strconv.FormatFloat(ms/1000, 'f', 1, 64) + " s"
	case ms >= 10:
		return strconv.FormatFloat(ms, 'f', 0, 64) + " ms"
	default:
		return strconv.FormatFloat(ms, 'f', 1, 64) + " ms"
	}
}

// stamp renders a time in UTC to the millisecond, or "" for none.
func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

// oneLine collapses whitespace and cuts s to n runes.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}

var deliveryStatuses = []string{"failed", "delivered", "pending"}

func newDeliveriesCmd() *cobra.Command {
	var (
		f      *appFlags
		n      int
		status string
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "deliveries PUB_NAME_OR_ID",
		Short: "List the latest delivery attempts to a publication",
		Long: "List the latest delivery attempts to a publication, newest first: when, which event,\n" +
			"the attempt's number, the HTTP status and outcome (delivered, retry, dead letter, disabled),\n" +
			"the latency and when the next attempt is due. --status pending lists the deliveries\n" +
			"waiting for a retry. The delivery log keeps 7 days by default.",
		Example: "  herokuevents deliveries systemStatus -a my-app\n  herokuevents deliveries systemStatus --status failed -n 50 -a my-app",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if n < 1 || n > 1000 {
				return fmt.Errorf("-n must be from 1 to 1000, not %d", n)
			}
			q := url.Values{"n": {strconv.Itoa(n)}}
			if status != "" {
				status = strings.ToLower(status)
				if !contains(deliveryStatuses, status) {
					return fmt.Errorf("--status must be one of %s, not %q", strings.Join(deliveryStatuses, ", "), status)
				}
				q.Set("status", status)
			}
			c, err := f.connect(cmd.Context())
			if err != nil {
				return err
			}
			raw, err := c.do(cmd.Context(), http.MethodGet, c.path("publications", args[0], "deliveries")+"?"+q.Encode(), nil)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return printJSON(out, raw)
			}
			var list []attempt
			if err := c.decode(raw, &list); err != nil {
				return err
			}
			what := "deliveries"
			if status != "" {
				what = status + " deliveries"
			}
			if len(list) == 0 {
				fmt.Fprintf(out, "No %s to %s for app %s.\n", what, args[0], f.app)
				return nil
			}
			rows := make([][]string, 0, len(list))
			for _, a := range list {
				rows = append(rows, []string{stamp(a.Time), a.EventID, strconv.Itoa(a.Attempt), statusOf(a.Status, a.Outcome), latency(a.LatencyMS), stamp(a.NextAttemptAt)})
			}
			printHeader(out, fmt.Sprintf("Latest %s to %s for app %s", what, args[0], f.app))
			printTable(out, []string{"Time", "Event", "Attempt", "Status", "Latency", "Next Attempt"}, rows)
			return nil
		},
	}
	f = addAppFlags(cmd)
	cmd.Flags().IntVarP(&n, "number", "n", 20, "how many attempts (1 to 1000)")
	cmd.Flags().StringVar(&status, "status", "", "only these: failed, delivered or pending")
	cmd.Flags().BoolVarP(&asJSON, "json", "j", false, "output in json format")
	return cmd
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// traceStep is one step of an event's trace.
type traceStep struct {
	Time          time.Time `json:"time"`
	Stage         string    `json:"stage"`
	Subscription  string    `json:"subscription"`
	Publication   string    `json:"publication"`
	Via           string    `json:"via"`
	Reason        string    `json:"reason"`
	Attempt       int       `json:"attempt"`
	Outcome       string    `json:"outcome"`
	Status        int       `json:"status"`
	LatencyMS     float64   `json:"latency_ms"`
	Response      string    `json:"response"`
	Error         string    `json:"error"`
	NextAttemptAt time.Time `json:"next_attempt_at"`
}

var viaLabels = map[string]string{"publish": "the publish URL", "generate": "a generator", "salesforce": "Salesforce"}

// row renders the step as Time, Step, Where, Detail.
func (s traceStep) row() []string {
	step, where := label(s.Stage), ""
	var detail []string
	switch s.Stage {
	case "accepted":
		where = "subscription " + s.Subscription
		if s.Subscription == "" {
			where = "publication " + s.Publication
		}
		if v := viaLabels[s.Via]; v != "" {
			detail = append(detail, "from "+v)
		}
	case "routed", "filtered_out":
		where = s.Subscription + " → " + s.Publication
		if s.Publication == "" {
			where = s.Subscription
		}
	case "attempt":
		step = fmt.Sprintf("attempt %d", s.Attempt)
		where = s.Publication
		detail = append(detail, statusOf(s.Status, s.Outcome), latency(s.LatencyMS))
		if !s.NextAttemptAt.IsZero() {
			detail = append(detail, "next at "+stamp(s.NextAttemptAt))
		}
	default:
		where = cmpOr(s.Publication, s.Subscription)
	}
	if s.Reason != "" {
		detail = append(detail, oneLine(s.Reason, 100))
	}
	if s.Error != "" && s.Outcome != "delivered" {
		detail = append(detail, oneLine(s.Error, 100))
	}
	return []string{stamp(s.Time), step, where, strings.Join(detail, ", ")}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func newTraceCmd() *cobra.Command {
	var (
		f      *appFlags
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "trace EVENT_ID",
		Short: "Show what happened to an event",
		Long: "Show the path of an event: where and when it was accepted, each stream that routed it\n" +
			"or filtered it out (and why), each delivery attempt to each publication, and a dead\n" +
			"letter if any. EVENT_ID is the id the publish URL answered (202 {\"id\": …}) or the\n" +
			"CloudEvent's id.",
		Example: "  herokuevents trace 86cf8731-3f58-4168-880c-a2a91e67a1e9 -a my-app",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.connect(cmd.Context())
			if err != nil {
				return err
			}
			raw, err := c.do(cmd.Context(), http.MethodGet, c.path("events", args[0], "trace"), nil)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return printJSON(out, raw)
			}
			var tr struct {
				Steps []traceStep `json:"steps"`
			}
			if err := c.decode(raw, &tr); err != nil {
				return err
			}
			rows := make([][]string, 0, len(tr.Steps))
			for _, s := range tr.Steps {
				rows = append(rows, s.row())
			}
			printHeader(out, fmt.Sprintf("Event %s for app %s", args[0], f.app))
			printTable(out, []string{"Time", "Step", "Where", "Detail"}, rows)
			return nil
		},
	}
	f = addAppFlags(cmd)
	cmd.Flags().BoolVarP(&asJSON, "json", "j", false, "output in json format")
	return cmd
}

func newDeliveriesRetryCmd() *cobra.Command {
	var f *appFlags
	cmd := &cobra.Command{
		Use:   "deliveries:retry EVENT_ID PUB_NAME_OR_ID",
		Short: "Deliver an event to a publication again",
		Long: "Queue a fresh delivery of an event to a publication (attempt 1, its retry policy starting\n" +
			"again), whether it was delivered, is failing or was dead-lettered. The delivery log keeps\n" +
			"the event as first delivered for 7 days by default; receivers de-duplicate on its id.",
		Example: "  herokuevents deliveries:retry 86cf8731-3f58-4168-880c-a2a91e67a1e9 systemStatus -a my-app",
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.connect(cmd.Context())
			if err != nil {
				return err
			}
			msg := fmt.Sprintf("Retrying event %s on publication %s", args[0], args[1])
			return action(cmd.ErrOrStderr(), msg, func() error {
				return c.call(cmd.Context(), http.MethodPost, c.path("events", args[0], "publications", args[1], "retry"), nil, nil)
			})
		},
	}
	f = addAppFlags(cmd)
	return cmd
}

// health is the health of a publication or subscription as the API
// reports it (with the delivery log).
type health struct {
	State       string    `json:"state"`
	Reason      string    `json:"reason"`
	LastError   string    `json:"last_error"`
	LastErrorAt time.Time `json:"last_error_at"`
	Backlog     struct {
		Pending  int       `json:"pending"`
		OldestAt time.Time `json:"oldest_at"`
	} `json:"backlog"`
	NextRetryAt time.Time `json:"next_retry_at"`
	LastHour    *struct {
		Delivered int     `json:"delivered"`
		Failed    int     `json:"failed"`
		P50MS     float64 `json:"p50_ms"`
		P99MS     float64 `json:"p99_ms"`
	} `json:"last_hour"`
}

// state is the state column of a list; "" without health.
func (h *health) state() string {
	if h == nil {
		return ""
	}
	return h.State
}

// lastHour renders the last hour's counts: "3 delivered, 1 failed".
func (h *health) lastHour() string {
	if h == nil || h.LastHour == nil {
		return ""
	}
	return fmt.Sprintf("%d delivered, %d failed", h.LastHour.Delivered, h.LastHour.Failed)
}

// fields are the info lines of h at now; they replace the fields of the
// same keys in fields.
func (h *health) fields(fields []field, now time.Time) []field {
	if h == nil {
		return fields
	}
	state := h.State
	if h.Reason != "" {
		state += " (" + oneLine(h.Reason, 100) + ")"
	}
	add := []field{{Key: "State", Values: values(state)}}
	if h.LastError != "" {
		e := oneLine(h.LastError, 200)
		if !h.LastErrorAt.IsZero() {
			e += ", " + checkpointAge(h.LastErrorAt, now)
		}
		add = append(add, field{Key: "Last Error", Values: values(e)})
	}
	backlog := "none"
	if h.Backlog.Pending > 0 {
		backlog = plural(h.Backlog.Pending, "delivery", "deliveries") + " waiting for a retry"
		if !h.Backlog.OldestAt.IsZero() {
			backlog += ", the oldest first tried " + checkpointAge(h.Backlog.OldestAt, now)
		}
	}
	add = append(add, field{Key: "Backlog", Values: values(backlog)})
	if !h.NextRetryAt.IsZero() {
		add = append(add, field{Key: "Next Retry", Values: values(stamp(h.NextRetryAt))})
	}
	if h.LastHour != nil {
		add = append(add, field{Key: "Last Hour", Values: values(fmt.Sprintf("%s, latency p50 %s, p99 %s",
			h.lastHour(), latency(h.LastHour.P50MS), latency(h.LastHour.P99MS)))})
	}
	out := fields[:0:0]
	for _, f := range fields {
		replaced := false
		for _, a := range add {
			replaced = replaced || a.Key == f.Key
		}
		if !replaced {
			out = append(out, f)
		}
	}
	return append(out, add...)
}

// infoJSON adds --json to an info command: the API's answer as it is.
func infoJSON(cmd *cobra.Command) *bool {
	var asJSON bool
	cmd.Flags().BoolVarP(&asJSON, "json", "j", false, "output in json format")
	return &asJSON
}
