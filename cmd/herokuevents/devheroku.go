package main

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/herokuevents/herokuevents/shared/addon"
	"github.com/herokuevents/herokuevents/shared/heroku"
	"github.com/herokuevents/herokuevents/shared/heroku/standin"
)

func init() {
	register(newDevHerokuCmd, newDevHerokuCreateCmd, newDevHerokuDestroyCmd, newDevHerokuOpenCmd,
		newDevHerokuLogsCmd, newConfigGetCmd)
}

// defaultHerokuURL is where dev:heroku listens by default.
const defaultHerokuURL = "http://127.0.0.1:5600"

func newDevHerokuCmd() *cobra.Command {
	var (
		addr, manifestPath, clientSecret, logLevel, addonURL string
		production                                           bool
	)
	cmd := &cobra.Command{
		Use:   "dev:heroku",
		Short: "Run a local stand-in for Heroku: identity, Platform API, Logplex input, add-on provisioning",
		Long: `Run a local stand-in for Heroku until interrupted. It plays Heroku towards the
add-on of --addon-manifest (its test base_url and sso_url; --production for
the production ones):

  identity       POST /oauth/token (grant exchange, refresh)
  Platform API   GET /addons/{id}, PATCH /addons/{id}/config, attachments,
                 actions/provision; the apps' config vars and add-ons
  Logplex input  each app's log_input_url; every line received is printed
                 here as ` + "`heroku logs --tail`" + ` prints it

The dev:heroku:addons:create, :destroy, :open, dev:heroku:logs and
config:get commands act on it as the Heroku CLI acts on Heroku.

The manifest's placeholders take HEROKU_ADDON_PASSWORD and HEROKU_SSO_SALT
from the environment; unset ones are made up. It prints the variables the
add-on (herokuevents serve) needs, as export lines on a terminal and
NAME=value lines when piped:
  HEROKU_API_URL, HEROKU_ID_URL  this stand-in
  HEROKU_OAUTH_CLIENT_SECRET     the add-on's OAuth client secret
  HEROKU_ADDON_PASSWORD          the manifest's api.password and sso_salt
  HEROKU_SSO_SALT`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			logger, err := jsonLogger(cmd, logLevel)
			if err != nil {
				return err
			}
			secrets := map[string]string{}
			for _, k := range []string{addon.EnvPassword, addon.EnvSSOSalt} {
				if secrets[k] = os.Getenv(k); secrets[k] == "" {
					secrets[k] = randomToken()
				}
			}
			m, err := addon.Load(manifestPath, func(k string) string {
				if v, ok := secrets[k]; ok {
					return v
				}
				return os.Getenv(k)
			})
			if err != nil {
				return fmt.Errorf("--addon-manifest: %w", err)
			}
			if addonURL != "" {
				u, err := url.Parse(addonURL)
				if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
					return fmt.Errorf("--addon-url %q is not an absolute http(s) URL", addonURL)
				}
				base := strings.TrimSuffix(addonURL, "/")
				ep := addon.Endpoints{BaseURL: base + "/heroku/resources", SSOURL: base + "/sso/login"}
				m.API.Test, m.API.Production = ep, ep
			}
			if clientSecret == "" {
				clientSecret = os.Getenv(heroku.EnvClientSecret)
			}
			out := cmd.OutOrStdout()
			h, err := standin.Start(standin.Options{Addr: addr, Manifest: m, Production: production,
				ClientSecret: clientSecret, LogOutput: out, Logger: logger})
			if err != nil {
				return fmt.Errorf("start heroku stand-in: %w", err)
			}
			defer h.Close()
			vars := [][2]string{
				{heroku.EnvAPIURL, h.URL()},
				{heroku.EnvIDURL, h.URL()},
				{heroku.EnvClientSecret, h.ClientSecret()},
				{addon.EnvPassword, secrets[addon.EnvPassword]},
				{addon.EnvSSOSalt, secrets[addon.EnvSSOSalt]},
			}
			if f, ok := out.(*os.File); ok && isTerminal(f) {
				base := m.API.Test.BaseURL
				if production {
					base = m.API.Production.BaseURL
				}
				fmt.Fprintf(out, "The Heroku stand-in is ready at %s; it provisions the add-on at %s.\n"+
					"In the terminals of herokuevents serve and of the CLI, paste:\n\n", h.URL(), base)
				for _, kv := range vars {
					fmt.Fprintf(out, "  export %s=%s\n", kv[0], shellQuote(kv[1]))
				}
				fmt.Fprint(out, "\nLines the add-on writes to an app's log stream appear here. Stop with Ctrl-C; nothing is kept.\n\n")
			} else {
				for _, kv := range vars {
					fmt.Fprintf(out, "%s=%s\n", kv[0], kv[1])
				}
			}
			<-cmd.Context().Done()
			logger.Info("heroku stand-in stopping")
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&addr, "addr", strings.TrimPrefix(defaultHerokuURL, "http://"), "listen address")
	f.StringVar(&manifestPath, "addon-manifest", "addon-manifest.json", "the add-on manifest")
	f.StringVar(&addonURL, "addon-url", "", "where the add-on listens (its /heroku/resources and /sso/login), instead of the manifest's endpoints")
	f.BoolVar(&production, "production", false, "provision at the manifest's production endpoints instead of its test ones")
	f.StringVar(&clientSecret, "client-secret", "", "the add-on's OAuth client secret (default $"+heroku.EnvClientSecret+", else made up)")
	f.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	return cmd
}

func randomToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// herokuFlags are the flags of the commands that act on the stand-in as
// the Heroku CLI acts on Heroku: -a APP (default $HEROKU_APP, as the
// Heroku CLI) and --heroku-url (default $HEROKU_API_URL).
type herokuFlags struct {
	app, url string
}

func addHerokuFlags(cmd *cobra.Command) *herokuFlags {
	f := &herokuFlags{}
	cmd.Flags().StringVarP(&f.app, "app", "a", "", "app to run command against (default $HEROKU_APP)")
	cmd.Flags().StringVar(&f.url, "heroku-url", "", "the Heroku stand-in (default $"+heroku.EnvAPIURL+", else "+defaultHerokuURL+")")
	return f
}

func (f *herokuFlags) resolve() (*herokuClient, string, error) {
	app := f.app
	if app == "" {
		app = os.Getenv("HEROKU_APP")
	}
	if app == "" {
		return nil, "", errors.New("missing required flag app: pass -a APP or set HEROKU_APP")
	}
	base := f.url
	if base == "" {
		base = os.Getenv(heroku.EnvAPIURL)
	}
	if base == "" {
		base = defaultHerokuURL
	}
	return &herokuClient{jsonClient{
		http:  &http.Client{Timeout: requestTimeout},
		base:  strings.TrimSuffix(base, "/"),
		label: "Heroku",
		auth:  func(r *http.Request) { r.Header.Set("Accept", heroku.Accept) },
	}}, app, nil
}

// herokuClient calls the stand-in's user routes.
type herokuClient struct{ jsonClient }

func appPath(app string, segments ...string) string {
	p := "/apps/" + url.PathEscape(app)
	for _, s := range segments {
		p += "/" + url.PathEscape(s)
	}
	return p
}

type herokuAddon struct {
	ID               string   `json:"id"`
	Name             string   `json:"name"`
	State            string   `json:"state"`
	ConfigVars       []string `json:"config_vars"`
	ProvisionMessage string   `json:"provision_message"`
}

func newDevHerokuCreateCmd() *cobra.Command {
	var name string
	var hf *herokuFlags
	cmd := &cobra.Command{
		Use:   "dev:heroku:addons:create SERVICE[:PLAN] [-- --key value ...]",
		Short: "Create an add-on on an app of the Heroku stand-in (as heroku addons:create)",
		Long: `Create an add-on on an app of the Heroku stand-in, as heroku addons:create does
on Heroku: the stand-in sends the add-on the Add-on Partner API v3
provision request and sets the config vars it answers on the app.
Options after -- reach the add-on as the request's options
(--key value → "key": "value", a bare --flag → true).

  herokuevents dev:heroku:addons:create herokuevents -a my-app`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, app, err := hf.resolve()
			if err != nil {
				return err
			}
			service := args[0]
			body := map[string]any{"plan": map[string]string{"name": service}, "config": addonOptions(args[1:])}
			if name != "" {
				body["name"] = name
			}
			var a herokuAddon
			err = action(cmd.ErrOrStderr(), fmt.Sprintf("Creating %s on ⬢ %s", service, app), func() error {
				return c.call(cmd.Context(), http.MethodPost, appPath(app, "addons"), body, &a)
			})
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if a.ProvisionMessage != "" {
				fmt.Fprintln(out, a.ProvisionMessage)
			}
			if a.State == "provisioning" {
				fmt.Fprintf(out, "%s is being created in the background. The app will restart when complete...\n", a.Name)
				return nil
			}
			slices.Sort(a.ConfigVars)
			if len(a.ConfigVars) == 0 {
				fmt.Fprintf(out, "Created %s\n", a.Name)
			} else {
				fmt.Fprintf(out, "Created %s as %s\n", a.Name, strings.Join(a.ConfigVars, ", "))
			}
			fmt.Fprintf(out, "Read them with: herokuevents config:get NAME -a %s\n", app)
			return nil
		},
	}
	hf = addHerokuFlags(cmd)
	cmd.Flags().StringVar(&name, "name", "", "name for the add-on resource")
	return cmd
}

// addonOptions turns the words after -- into provision options.
func addonOptions(words []string) map[string]any {
	out := map[string]any{}
	for i := 0; i < len(words); i++ {
		k, ok := strings.CutPrefix(words[i], "--")
		if !ok || k == "" {
			continue
		}
		if key, v, eq := strings.Cut(k, "="); eq {
			out[key] = v
			continue
		}
		if i+1 < len(words) && !strings.HasPrefix(words[i+1], "--") {
			out[k] = words[i+1]
			i++
			continue
		}
		out[k] = true
	}
	return out
}

func newDevHerokuDestroyCmd() *cobra.Command {
	var hf *herokuFlags
	cmd := &cobra.Command{
		Use:   "dev:heroku:addons:destroy ADDON",
		Short: "Destroy an add-on of an app of the Heroku stand-in (as heroku addons:destroy)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, app, err := hf.resolve()
			if err != nil {
				return err
			}
			confirm, _ := cmd.Flags().GetString("confirm")
			if err := confirmApp(cmd, app, confirm); err != nil {
				return err
			}
			var a herokuAddon
			if err := c.call(cmd.Context(), http.MethodGet, appPath(app, "addons", args[0]), nil, &a); err != nil {
				return err
			}
			return action(cmd.ErrOrStderr(), fmt.Sprintf("Destroying %s on ⬢ %s", a.Name, app), func() error {
				return c.call(cmd.Context(), http.MethodDelete, appPath(app, "addons", args[0]), nil, nil)
			})
		},
	}
	hf = addHerokuFlags(cmd)
	addConfirmFlag(cmd)
	return cmd
}

func newDevHerokuOpenCmd() *cobra.Command {
	var showURL bool
	var hf *herokuFlags
	cmd := &cobra.Command{
		Use:   "dev:heroku:addons:open ADDON",
		Short: "Open an add-on's dashboard through SSO (as heroku addons:open)",
		Long: `Open an add-on's dashboard as Heroku does: the printed URL is the stand-in's
SSO page, which a browser opens and which posts the SSO form (the
manifest's sso_url; resource_id, timestamp, resource_token,
user_scoped_resource_token) to the add-on, signing that browser in. The
command first posts the form itself and fails when the add-on refuses it.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, app, err := hf.resolve()
			if err != nil {
				return err
			}
			var form struct {
				Action string            `json:"action"`
				Method string            `json:"method"`
				Params map[string]string `json:"params"`
			}
			if err := c.call(cmd.Context(), http.MethodGet, appPath(app, "addons", args[0], "sso"), nil, &form); err != nil {
				return err
			}
			if _, err := postSSO(cmd, form.Action, form.Params); err != nil {
				return err
			}
			page := c.base + "/addons-sso/" + url.PathEscape(app) + "/" + url.PathEscape(args[0])
			if showURL {
				fmt.Fprintln(cmd.OutOrStdout(), page)
				return nil
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Opening %s...\n", page)
			return nil
		},
	}
	hf = addHerokuFlags(cmd)
	cmd.Flags().BoolVar(&showURL, "show-url", false, "print the URL only")
	return cmd
}

// postSSO posts the SSO form as the browser would and returns where the
// add-on sends the signed-in user.
func postSSO(cmd *cobra.Command, action string, params map[string]string) (string, error) {
	form := url.Values{}
	for k, v := range params {
		form.Set(k, v)
	}
	req, err := http.NewRequestWithContext(cmd.Context(), http.MethodPost, action, strings.NewReader(form.Encode()))
	if err != nil {
		return "", fmt.Errorf("build the SSO request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	client := &http.Client{Timeout: requestTimeout, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("post the SSO form to the add-on: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	switch {
	case resp.StatusCode >= 300 && resp.StatusCode < 400 && resp.Header.Get("Location") != "":
		loc, err := resp.Request.URL.Parse(resp.Header.Get("Location"))
		if err != nil {
			return "", fmt.Errorf("the add-on's SSO redirect: %w", err)
		}
		return loc.String(), nil
	case resp.StatusCode == http.StatusOK:
		return action, nil
	default:
		return "", fmt.Errorf("the add-on refused the SSO login: %s", resp.Status)
	}
}

func newDevHerokuLogsCmd() *cobra.Command {
	var (
		tail         bool
		num          int
		source, dyno string
	)
	var hf *herokuFlags
	cmd := &cobra.Command{
		Use:   "dev:heroku:logs",
		Short: "Show the log lines an app of the Heroku stand-in received (as heroku logs)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, app, err := hf.resolve()
			if err != nil {
				return err
			}
			var sess struct {
				URL string `json:"logplex_url"`
			}
			body := map[string]any{"lines": num, "tail": tail, "source": source, "dyno": dyno}
			if err := c.call(cmd.Context(), http.MethodPost, appPath(app, "log-sessions"), body, &sess); err != nil {
				return err
			}
			req, err := http.NewRequestWithContext(cmd.Context(), http.MethodGet, sess.URL, nil)
			if err != nil {
				return fmt.Errorf("build the log request: %w", err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return fmt.Errorf("read the log session: %w", err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("read the log session: %s", resp.Status)
			}
			_, err = io.Copy(cmd.OutOrStdout(), resp.Body)
			if cmd.Context().Err() != nil {
				return nil
			}
			return err
		},
	}
	hf = addHerokuFlags(cmd)
	cmd.Flags().BoolVarP(&tail, "tail", "t", false, "continually stream logs")
	cmd.Flags().IntVarP(&num, "num", "n", 100, "number of lines to display")
	cmd.Flags().StringVarP(&source, "source", "s", "", "only show output from this source (app, heroku)")
	cmd.Flags().StringVarP(&dyno, "dyno", "d", "", "only show output from this dyno or process, e.g. herokuevents")
	return cmd
}

func newConfigGetCmd() *cobra.Command {
	var shell, asJSON bool
	var hf *herokuFlags
	cmd := &cobra.Command{
		Use:   "config:get KEY...",
		Short: "Display a config value of an app of the Heroku stand-in (as heroku config:get)",
		Long: `Display config vars of an app of the Heroku stand-in (dev:heroku) as
heroku config:get does: the raw value and a newline, an empty line when
unset. The app is -a APP or $HEROKU_APP.

  curl -X POST $(herokuevents config:get HEROKUEVENTS_PUBLISH_URL -a my-app)/inbound …`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, app, err := hf.resolve()
			if err != nil {
				return err
			}
			var vars map[string]string
			if err := c.call(cmd.Context(), http.MethodGet, appPath(app, "config-vars"), nil, &vars); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				type kv struct {
					Key   string  `json:"key"`
					Value *string `json:"value"`
				}
				var list []kv
				for _, k := range args {
					e := kv{Key: k}
					if v, ok := vars[k]; ok {
						e.Value = &v
					}
					list = append(list, e)
				}
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				if len(list) == 1 {
					return enc.Encode(list[0])
				}
				return enc.Encode(list)
			}
			for _, k := range args {
				if shell {
					fmt.Fprintf(out, "%s=%s\n", k, shellQuote(vars[k]))
					continue
				}
				fmt.Fprintln(out, vars[k])
			}
			return nil
		},
	}
	hf = addHerokuFlags(cmd)
	cmd.Flags().BoolVarP(&shell, "shell", "s", false, "output config vars in shell format")
	cmd.Flags().BoolVarP(&asJSON, "json", "j", false, "output config vars in JSON format")
	return cmd
}
