package main

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

func init() {
	register(newPublicationsUpdateCmd, newPublicationsEnableCmd, newPublicationsPauseCmd, newPublicationsResumeCmd,
		newRotateSecretCmd, newDeadLettersPurgeCmd, newStreamsUpdateCmd)
}

// parseRate reads --rate: "N/s" or "N" events per second, "0" (or "off",
// "none") for no cap.
func parseRate(raw string) (float64, error) {
	s := strings.TrimSpace(strings.ToLower(raw))
	if s == "off" || s == "none" {
		return 0, nil
	}
	s = strings.TrimSuffix(s, "/s")
	n, err := strconv.ParseFloat(s, 64)
	if err != nil || n < 0 || n != n {
		return 0, fmt.Errorf("--rate %q: give events per second, such as 10/s (0 for no cap)", raw)
	}
	return n, nil
}

// checkDuration checks a duration flag before any call: a Go duration, or
// "0" for the default.
func checkDuration(flag, raw string) error {
	if strings.TrimSpace(raw) == "0" {
		return nil
	}
	if _, err := time.ParseDuration(raw); err != nil {
		return fmt.Errorf("--%s %q: give a duration such as 30s or 2h (0 for the default)", flag, raw)
	}
	return nil
}

func newPublicationsUpdateCmd() *cobra.Command {
	var f *appFlags
	var (
		url, token, timeout, maxAge, rate, mode, contentType string
		maxAttempts                                          int
		skipHandshake                                        bool
		ord                                                  *orderFlags
	)
	cmd := &cobra.Command{
		Use:   "publications:update PUB_NAME_OR_ID",
		Short: "Change a publication: its URL, token, platform parameters and how it is delivered",
		Long: `Change a publication. Only the flags given change; the others stay as they are.
-t '' removes the token; 0 puts --timeout, --max-attempts, --max-age back to their defaults
and removes the --rate cap.`,
		Example: `  herokuevents publications:update systemStatus -u https://example.com/new-hook -a my-app
  herokuevents publications:update systemStatus --timeout 30s --max-attempts 10 --max-age 2h --rate 5/s -a my-app
  herokuevents publications:update legacyHook --content-type application/json -a my-app
  herokuevents publications:update bulkHook --batch-size 50 --batch-window 200ms -a my-app`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			fl := cmd.Flags()
			body := map[string]any{}
			for flag, field := range map[string]string{"url": "url", "token": "token", "mode": "mode", "content-type": "content_type"} {
				if fl.Changed(flag) {
					v, _ := fl.GetString(flag)
					body[field] = v
				}
			}
			if fl.Changed("url") && url == "" {
				return fmt.Errorf("--url must not be empty")
			}
			for flag, v := range map[string]string{"timeout": timeout, "max-age": maxAge} {
				if fl.Changed(flag) {
					if err := checkDuration(flag, v); err != nil {
						return err
					}
					body[strings.ReplaceAll(flag, "-", "_")] = v
				}
			}
			if fl.Changed("max-attempts") {
				if maxAttempts < 0 {
					return fmt.Errorf("--max-attempts %d: give a number of attempts (0 for the default)", maxAttempts)
				}
				body["max_attempts"] = maxAttempts
			}
			if fl.Changed("rate") {
				n, err := parseRate(rate)
				if err != nil {
					return err
				}
				body["rate"] = n
			}
			if err := batchUpdateBody(cmd, body); err != nil {
				return err
			}
			if err := authUpdateBody(fl, body); err != nil {
				return err
			}
			if err := ord.body(fl, body); err != nil {
				return err
			}
			if len(body) == 0 {
				return fmt.Errorf("nothing to change: give at least one of --url, --token, --oauth2-*, --client-cert, --timeout, --max-attempts, --max-age, --rate, --mode, --content-type, --ordered, --ordered-by, --on-failure")
			}
			if skipHandshake {
				body["skip_handshake"] = true
			}
			c, err := f.connect(cmd.Context())
			if err != nil {
				return err
			}
			return action(cmd.ErrOrStderr(), "Updating publication "+args[0], func() error {
				return c.call(cmd.Context(), http.MethodPatch, c.path("publications", args[0]), body, nil)
			})
		},
	}
	f = addAppFlags(cmd)
	fl := cmd.Flags()
	fl.StringVarP(&url, "url", "u", "", "webhook: URL the events are POSTed to")
	fl.StringVarP(&token, "token", "t", "", "webhook: access token sent in the Authorization header ('' removes it)")
	fl.StringVar(&timeout, "timeout", "", "bound of one delivery attempt, 1s to 1m (0: the default, 10s)")
	fl.IntVar(&maxAttempts, "max-attempts", 0, "attempts of one event before it is dead-lettered (0: the default)")
	fl.StringVar(&maxAge, "max-age", "", "how long after the first attempt retries go on, up to 168h (0: the default, 24h)")
	fl.StringVar(&rate, "rate", "", "deliveries per second at most, e.g. 10/s (0: no cap)")
	fl.StringVar(&mode, "mode", "", "webhook: CloudEvents mode, structured or binary")
	fl.StringVar(&contentType, "content-type", "", "webhook: Content-Type of structured requests, application/cloudevents+json or application/json")
	fl.BoolVar(&skipHandshake, "skip-handshake", false, "webhook: change the URL without the CloudEvents webhook handshake")
	addBatchUpdateFlags(cmd)
	addAuthUpdateFlags(fl)
	ord = addOrderFlags(fl, true) // ordered.go
	return cmd
}

// publicationAction is a command that POSTs to publications/{name}/{verb}
// behind the spinner "{gerund} publication {name}", then prints after on
// stderr.
func publicationAction(use, short, verb, gerund, after string) func() *cobra.Command {
	return func() *cobra.Command {
		var f *appFlags
		cmd := &cobra.Command{
			Use:   use + " PUB_NAME_OR_ID",
			Short: short,
			Args:  cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				c, err := f.connect(cmd.Context())
				if err != nil {
					return err
				}
				err = action(cmd.ErrOrStderr(), gerund+" publication "+args[0], func() error {
					return c.call(cmd.Context(), http.MethodPost, c.path("publications", args[0], verb), nil, nil)
				})
				if err == nil && after != "" {
					fmt.Fprint(cmd.ErrOrStderr(), strings.ReplaceAll(after, "{name}", args[0]))
				}
				return err
			},
		}
		f = addAppFlags(cmd)
		return cmd
	}
}

var (
	newPublicationsEnableCmd = publicationAction("publications:enable", "Enable a publication disabled by a 410 Gone: the next events are delivered",
		"enable", "Enabling", "Events dead-lettered while it was disabled stay: send them again with deadletters:redrive.\n")
	newPublicationsPauseCmd = publicationAction("publications:pause", "Pause a publication: events wait, none is attempted nor dead-lettered",
		"pause", "Pausing", "Events for {name} wait until publications:resume {name}.\n")
	newPublicationsResumeCmd = publicationAction("publications:resume", "Resume a paused publication: the events that waited are delivered",
		"resume", "Resuming", "")
)

func newRotateSecretCmd() *cobra.Command {
	var f *appFlags
	var overlap time.Duration
	cmd := &cobra.Command{
		Use:   "publications:webhook:rotate-secret PUB_NAME_OR_ID",
		Short: "Give a webhook publication a new signing secret; the old one keeps signing during --overlap",
		Long: `Give a webhook publication a new signing secret, printed once. During --overlap (24h by default) each
request carries two Standard Webhooks signatures, "v1,<new> v1,<old>" in webhook-signature, so that
receivers verifying with either secret accept; switch your receivers to the new secret within it.
Heroku-Webhook-Hmac-SHA256 holds one value: the old secret's until the overlap ends.`,
		Example: "  herokuevents publications:webhook:rotate-secret systemStatus -a my-app\n" +
			"  herokuevents publications:webhook:rotate-secret systemStatus --overlap 2h -a my-app",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if overlap < 0 {
				return fmt.Errorf("--overlap %s: give a duration of 0 or more", overlap)
			}
			c, err := f.connect(cmd.Context())
			if err != nil {
				return err
			}
			req := map[string]string{"overlap": overlap.String()}
			var res struct {
				Extra struct {
					SigningSecret string    `json:"signing_secret"`
					Until         time.Time `json:"previous_secret_expires_at"`
				} `json:"extra"`
			}
			err = action(cmd.ErrOrStderr(), "Rotating the signing secret of "+args[0], func() error {
				return c.call(cmd.Context(), http.MethodPost, c.path("publications", args[0], "rotate-secret"), req, &res)
			})
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "Signing secret (shown once): %s\n", res.Extra.SigningSecret)
			if res.Extra.Until.IsZero() {
				fmt.Fprintln(out, "The previous secret no longer signs.")
			} else {
				fmt.Fprintf(out, "The previous secret keeps signing until %s (webhook-signature carries both).\n",
					res.Extra.Until.UTC().Format(time.RFC3339))
			}
			return nil
		},
	}
	f = addAppFlags(cmd)
	cmd.Flags().DurationVar(&overlap, "overlap", 24*time.Hour, "how long the previous secret keeps signing beside the new one")
	return cmd
}

func newDeadLettersPurgeCmd() *cobra.Command {
	var f *appFlags
	var confirm *string
	cmd := &cobra.Command{
		Use:   "deadletters:purge [ID...]",
		Short: "Delete dead letters of an app for good (all of them without IDs)",
		Example: "  herokuevents deadletters:purge -a my-app --confirm my-app\n" +
			"  herokuevents deadletters:purge 12 13 -a my-app --confirm my-app",
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
			ids := slices.Compact(slices.Sorted(slices.Values(args)))
			msg := "Purging " + plural(len(ids), "dead letter", "dead letters")
			var req any
			if len(ids) == 0 {
				msg = "Purging every dead letter of " + f.app
			} else {
				req = map[string][]string{"ids": ids}
			}
			var res struct {
				Purged int `json:"purged"`
			}
			errw := cmd.ErrOrStderr()
			if err := action(errw, msg, func() error {
				return c.call(cmd.Context(), http.MethodDelete, c.path("dead-letters"), req, &res)
			}); err != nil {
				return err
			}
			if len(ids) == 0 {
				fmt.Fprintf(errw, "%s purged.\n", plural(res.Purged, "dead letter was", "dead letters were"))
			}
			return nil
		},
	}
	f = addAppFlags(cmd)
	confirm = addConfirmFlag(cmd)
	return cmd
}

func newStreamsUpdateCmd() *cobra.Command {
	var f *appFlags
	var filter string
	cmd := &cobra.Command{
		Use:   "streams:update SOURCE TARGET",
		Short: "Change the filter of the stream from subscription SOURCE to publication TARGET",
		Example: `  herokuevents streams:update accountChange accountCreated -a my-app \
    -f 'root = if ChangeEventHeader.changeType == "CREATE" { this } else { deleted() }'
  herokuevents streams:update accountChange accountCreated -f '' -a my-app   # no filter: every event`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := map[string]*string{"filter": nil}
			if strings.TrimSpace(filter) != "" {
				req["filter"] = &filter
			}
			c, err := f.connect(cmd.Context())
			if err != nil {
				return err
			}
			msg := fmt.Sprintf("Updating the filter of %s to %s", args[0], args[1])
			return action(cmd.ErrOrStderr(), msg, func() error {
				return c.call(cmd.Context(), http.MethodPatch, c.path("streams", args[0], args[1]), req, nil)
			})
		},
	}
	f = addAppFlags(cmd)
	cmd.Flags().StringVarP(&filter, "filter", "f", "", "new Bloblang filter ('' removes it)")
	_ = cmd.MarkFlagRequired("filter")
	return cmd
}

// deliveryConf is how a publication is delivered when not by default.
type deliveryConf struct {
	Timeout     string  `json:"timeout"`
	MaxAttempts int     `json:"max_attempts"`
	MaxAge      string  `json:"max_age"`
	Rate        float64 `json:"rate"`
}

// lifecycleFields are the info fields of a paused publication, its
// delivery settings and a secret rotation under way.
func (p publication) lifecycleFields() []field {
	var fields []field
	if p.Paused {
		v := "yes"
		if !p.PausedAt.IsZero() {
			v = "since " + p.PausedAt.UTC().Format(time.RFC3339)
		}
		fields = append(fields, field{Key: "Paused", Values: values(v)})
	}
	if d := p.Delivery; d != nil {
		fields = append(fields, field{Key: "Timeout", Values: values(d.Timeout)}, field{Key: "Max Age", Values: values(d.MaxAge)})
		if d.MaxAttempts > 0 {
			fields = append(fields, field{Key: "Max Attempts", Values: values(strconv.Itoa(d.MaxAttempts))})
		}
		if d.Rate > 0 {
			fields = append(fields, field{Key: "Rate", Values: values(strconv.FormatFloat(d.Rate, 'f', -1, 64) + "/s")})
		}
	}
	if !p.PreviousSecretUntil.IsZero() {
		fields = append(fields, field{Key: "Previous Secret", Values: values("signs until " + p.PreviousSecretUntil.UTC().Format(time.RFC3339))})
	}
	return fields
}
