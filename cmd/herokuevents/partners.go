package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// platformURLEnv is the config var with the platform operator's URL and
// credentials: http(s)://ID:PASSWORD@host.
const platformURLEnv = "HEROKUEVENTS_PLATFORM_URL"

func init() {
	register(newPartnersCmd, newPartnersInfoCmd, newPartnersCreateCmd, newPartnersDestroyCmd)
}

// platformClient calls the operator routes with Basic auth.
type platformClient struct{ jsonClient }

// newPlatformClient parses http(s)://ID:PASSWORD@host[/prefix]. Errors
// never contain the URL, which carries the password.
func newPlatformClient(raw string) (*platformClient, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, errors.New("invalid platform URL (expected https://ID:PASSWORD@HOST)")
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, errors.New("invalid platform URL: scheme must be http or https and a host is required")
	}
	pass, ok := u.User.Password()
	if u.User == nil || u.User.Username() == "" || !ok || pass == "" {
		return nil, errors.New("invalid platform URL: no operator credentials in it (expected ID:PASSWORD@)")
	}
	base := url.URL{Scheme: u.Scheme, Host: u.Host, Path: strings.TrimSuffix(u.Path, "/")}
	user := u.User.Username()
	return &platformClient{jsonClient{
		http:  &http.Client{Timeout: requestTimeout},
		base:  base.String(),
		label: "herokuevents platform API",
		auth:  func(r *http.Request) { r.SetBasicAuth(user, pass) },
	}}, nil
}

// platformFlag is --platform-url, defaulting to $HEROKUEVENTS_PLATFORM_URL.
type platformFlag struct{ url string }

func addPlatformFlag(cmd *cobra.Command) *platformFlag {
	f := &platformFlag{}
	cmd.Flags().StringVar(&f.url, "platform-url", "", "platform operator URL with credentials (default $"+platformURLEnv+")")
	return f
}

func (f *platformFlag) client() (*platformClient, error) {
	raw, source := f.url, "--platform-url"
	if raw == "" {
		raw, source = os.Getenv(platformURLEnv), platformURLEnv
	}
	if raw == "" {
		return nil, fmt.Errorf("%s is not set: export the %s that `herokuevents serve` prints, or pass --platform-url", platformURLEnv, platformURLEnv)
	}
	c, err := newPlatformClient(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	return c, nil
}

// partnerInfo is a partner as the platform API returns it.
type partnerInfo struct {
	ID            string    `json:"id"`
	ProductionURL string    `json:"production_url"`
	TestURL       string    `json:"test_url"`
	Test          bool      `json:"test"`
	NotifyURL     string    `json:"notify_url"`
	Requires      []string  `json:"requires"`
	LogToken      bool      `json:"log_token"`
	MaxAttempts   int       `json:"max_attempts"`
	RetryHorizon  string    `json:"retry_horizon"`
	Created       time.Time `json:"created_at"`
}

func (p partnerInfo) mode() string {
	if p.Test {
		return "test"
	}
	return "production"
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func (p partnerInfo) fields() []field {
	created := ""
	if !p.Created.IsZero() {
		created = p.Created.UTC().Format(time.RFC3339)
	}
	return []field{
		{Key: "Id", Values: values(p.ID)},
		{Key: "Mode", Values: values(p.mode())},
		{Key: "Production URL", Values: values(p.ProductionURL)},
		{Key: "Test URL", Values: values(p.TestURL)},
		{Key: "Notify URL", Values: values(p.NotifyURL)},
		{Key: "Requires", Values: p.Requires},
		{Key: "Log Token", Values: values(yesNo(p.LogToken))},
		{Key: "Retries", Values: values(fmt.Sprintf("%d attempts over %s", p.MaxAttempts, p.RetryHorizon))},
		{Key: "Created", Values: values(created)},
	}
}

func newPartnersCmd() *cobra.Command {
	var asJSON bool
	var f *platformFlag
	cmd := &cobra.Command{
		Use:   "partners",
		Short: "List add-on partners notified of app events (legacy partner event notifications)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			raw, err := c.do(cmd.Context(), http.MethodGet, "/v1/partners", nil)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return printJSON(out, raw)
			}
			var ps []partnerInfo
			if err := c.decode(raw, &ps); err != nil {
				return err
			}
			if len(ps) == 0 {
				fmt.Fprintln(out, "No add-on partners registered.")
				return nil
			}
			printHeader(out, "Add-on partners")
			rows := make([][]string, 0, len(ps))
			for _, p := range ps {
				rows = append(rows, []string{p.ID, p.mode(), p.NotifyURL, strings.Join(p.Requires, ", ")})
			}
			printTable(out, []string{"Id", "Mode", "Notify URL", "Requires"}, rows)
			return nil
		},
	}
	f = addPlatformFlag(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "output in json format")
	return cmd
}

func newPartnersInfoCmd() *cobra.Command {
	var f *platformFlag
	var asJSON *bool
	cmd := &cobra.Command{
		Use:   "partners:info PARTNER_ID",
		Short: "Show an add-on partner",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			raw, err := c.do(cmd.Context(), http.MethodGet, "/v1/partners/"+url.PathEscape(args[0]), nil)
			if err != nil {
				return err
			}
			if *asJSON {
				return printJSON(cmd.OutOrStdout(), raw)
			}
			var p partnerInfo
			if err := c.decode(raw, &p); err != nil {
				return err
			}
			printFields(cmd.OutOrStdout(), p.fields())
			return nil
		},
	}
	f = addPlatformFlag(cmd)
	asJSON = infoJSON(cmd)
	return cmd
}

// createPartnerRequest is the body of POST /v1/partners.
type createPartnerRequest struct {
	Manifest     json.RawMessage `json:"manifest"`
	Test         bool            `json:"test,omitempty"`
	LogToken     bool            `json:"log_token,omitempty"`
	MaxAttempts  int             `json:"max_attempts,omitempty"`
	RetryHorizon string          `json:"retry_horizon,omitempty"`
}

func newPartnersCreateCmd() *cobra.Command {
	var f *platformFlag
	var file string
	var req createPartnerRequest
	var horizon time.Duration
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "partners:create",
		Short: "Register an add-on partner from its add-on manifest",
		Long: `Register an add-on partner from its Heroku add-on manifest (addon-manifest.json):
id, api.password, api.production.base_url (https), api.test.base_url and
api.requires (deploy_notify, attach_notify, many_per_app, attachable).
Partners created with --test are notified at api.test.base_url.`,
		Example: `  herokuevents partners:create --manifest addon-manifest.json
  herokuevents partners:create --manifest addon-manifest.json --test --log-token`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			raw, err := readManifest(cmd, file)
			if err != nil {
				return err
			}
			if horizon < 0 || req.MaxAttempts < 0 {
				return errors.New("--max-attempts and --retry-horizon must be positive")
			}
			if horizon > 0 {
				req.RetryHorizon = horizon.String()
			}
			req.Manifest = raw
			var head struct {
				ID string `json:"id"`
			}
			_ = json.Unmarshal(raw, &head)
			c, err := f.client()
			if err != nil {
				return err
			}
			var p partnerInfo
			name := "partner"
			if head.ID != "" {
				name += " " + head.ID
			}
			err = action(cmd.ErrOrStderr(), "Creating "+name, func() error {
				return c.call(cmd.Context(), http.MethodPost, "/v1/partners", req, &p)
			})
			if err != nil {
				return err
			}
			if asJSON {
				b, err := json.Marshal(p)
				if err != nil {
					return err
				}
				return printJSON(cmd.OutOrStdout(), b)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Partner %s (%s) is notified at %s\n", p.ID, p.mode(), p.NotifyURL)
			return nil
		},
	}
	f = addPlatformFlag(cmd)
	cmd.Flags().StringVarP(&file, "manifest", "m", "", "add-on manifest JSON file, - for stdin (required)")
	cmd.Flags().BoolVar(&req.Test, "test", false, "notify at api.test.base_url (http allowed) instead of the production URL")
	cmd.Flags().BoolVar(&req.LogToken, "log-token", false, "grant the partner the log_token of attachments")
	cmd.Flags().BoolVar(&asJSON, "json", false, "output the created partner in json format")
	cmd.Flags().IntVar(&req.MaxAttempts, "max-attempts", 0, "attempts per notification (default 5)")
	cmd.Flags().DurationVar(&horizon, "retry-horizon", 0, "how long retries of a notification go on (default 15m)")
	_ = cmd.MarkFlagRequired("manifest")
	return cmd
}

// maxManifest bounds a manifest file.
const maxManifest = 1 << 20

// readManifest reads the manifest file (or stdin for "-") and checks it is JSON.
func readManifest(cmd *cobra.Command, file string) (json.RawMessage, error) {
	var rd io.Reader
	if file == "-" {
		rd = cmd.InOrStdin()
	} else {
		fh, err := os.Open(file)
		if err != nil {
			return nil, fmt.Errorf("read manifest: %w", err)
		}
		defer fh.Close()
		rd = fh
	}
	raw, err := io.ReadAll(io.LimitReader(rd, maxManifest+1))
	if err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	if len(raw) > maxManifest {
		return nil, fmt.Errorf("manifest %s is larger than %d bytes", file, maxManifest)
	}
	raw = bytes.TrimSpace(raw)
	if !json.Valid(raw) || len(raw) == 0 || raw[0] != '{' {
		return nil, fmt.Errorf("manifest %s is not a JSON object", file)
	}
	return raw, nil
}

func newPartnersDestroyCmd() *cobra.Command {
	var f *platformFlag
	var confirm string
	cmd := &cobra.Command{
		Use:   "partners:destroy PARTNER_ID",
		Short: "Remove an add-on partner with its add-on resources and attachments",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id := args[0]
			if err := confirmName(cmd, "partner", id, confirm); err != nil {
				return err
			}
			c, err := f.client()
			if err != nil {
				return err
			}
			return action(cmd.ErrOrStderr(), "Destroying partner "+id, func() error {
				return c.call(cmd.Context(), http.MethodDelete, "/v1/partners/"+url.PathEscape(id), nil, nil)
			})
		},
	}
	f = addPlatformFlag(cmd)
	cmd.Flags().StringVarP(&confirm, "confirm", "c", "", "set to the partner id to bypass the confirm prompt")
	return cmd
}

// confirmName makes sure the user means to destroy the named thing: confirm
// must equal name, or, without confirm, the user types it on a terminal.
func confirmName(cmd *cobra.Command, kind, name, confirm string) error {
	if confirm == "" {
		in := cmd.InOrStdin()
		if !isTerminal(in) {
			return fmt.Errorf("this command is destructive and stdin is not a terminal: pass --confirm %s", name)
		}
		errw := cmd.ErrOrStderr()
		fmt.Fprintln(errw, " ▸    WARNING: Destructive Action")
		fmt.Fprintf(errw, " ▸    This command will remove the %s %s\n", kind, name)
		fmt.Fprintf(errw, " ▸    To proceed, type %s or re-run this command with --confirm %s\n\n", name, name)
		fmt.Fprint(errw, "> ")
		line, err := bufio.NewReader(in).ReadString('\n')
		if err != nil && line == "" {
			return fmt.Errorf("no confirmation typed: pass --confirm %s", name)
		}
		confirm = strings.TrimSpace(line)
	}
	if confirm != name {
		//lint:ignore ST1005 the text of the Heroku CLI, printed as is
		return fmt.Errorf("Confirmation %s did not match %s. Aborted.", confirm, name)
	}
	return nil
}
