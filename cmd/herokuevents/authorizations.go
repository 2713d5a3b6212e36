package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

func init() {
	register(newAuthorizationsCmd, newAuthorizationsInfoCmd, newAuthorizationsDestroyCmd, newAuthorizationsSalesforceCreateCmd)
}

// authPollInterval is how often authorizations:salesforce:create asks
// whether the browser login finished (tests shorten it).
var authPollInterval = 5 * time.Second

// openBrowser opens url in browser ("" = the system's default); tests
// replace it.
var openBrowser = func(browser, url string) error {
	var cmd *exec.Cmd
	switch {
	case browser != "" && runtime.GOOS == "darwin":
		cmd = exec.Command("open", "-a", browser, url)
	case browser != "":
		cmd = exec.Command(browser, url)
	case runtime.GOOS == "darwin":
		cmd = exec.Command("open", url)
	case runtime.GOOS == "windows":
		cmd = exec.Command("rundll32", "url.dll,FileProtocolHandler", url)
	default:
		cmd = exec.Command("xdg-open", url)
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	go func() { _ = cmd.Wait() }()
	return nil
}

// authorization is an authorization as the management API returns it.
type authorization struct {
	ID       string `json:"id"`
	Platform string `json:"platform"`
	Params   struct {
		OrgName  string  `json:"org_name"`
		Alias    string  `json:"alias"`
		URL      *string `json:"url"`
		LoginURL string  `json:"login_url"`
	} `json:"params"`
	Status    string `json:"status"`
	LastError string `json:"last_error"`
	Flow      string `json:"flow"`
	OrgID     string `json:"org_id"`
	Username  string `json:"username"`
	Extra     struct {
		RedirectURI string `json:"redirect_uri"`
	} `json:"extra"`
}

func (a authorization) alias() string {
	if a.Params.Alias != "" {
		return a.Params.Alias
	}
	return a.Params.OrgName
}

func (a authorization) url() string {
	if a.Params.URL == nil {
		return ""
	}
	return *a.Params.URL
}

// details renders the Details column: "Org Name: x, Url: y, Status: z".
func (a authorization) details() string {
	var parts []string
	for _, kv := range [][2]string{{"Org Name", a.Params.OrgName}, {"Url", a.url()}, {"Status", a.Status}} {
		if kv[1] != "" {
			parts = append(parts, kv[0]+": "+kv[1])
		}
	}
	return strings.Join(parts, ", ")
}

func (a authorization) fields() []field {
	return []field{
		{Key: "Id", Values: values(a.ID)},
		{Key: "Alias", Values: values(a.alias())},
		{Key: "Org Name", Values: values(a.Params.OrgName)},
		{Key: "Platform", Values: values(a.Platform)},
		{Key: "Url", Values: values(a.url())},
		{Key: "Login Url", Values: values(a.Params.LoginURL)},
		{Key: "Status", Values: values(a.Status)},
		{Key: "Last Error", Values: values(a.LastError)},
		{Key: "Flow", Values: values(a.Flow)},
		{Key: "Org Id", Values: values(a.OrgID)},
		{Key: "Username", Values: values(a.Username)},
	}
}

func newAuthorizationsCmd() *cobra.Command {
	return newListCmd("authorizations", "List authorizations (connections to Salesforce orgs) of an app", listCmd{
		kind:    "authorizations",
		path:    "authorizations",
		headers: []string{"Alias", "Platform", "Details"},
		rows: func(raw []byte) ([][]string, error) {
			var list []authorization
			if err := json.Unmarshal(raw, &list); err != nil {
				return nil, err
			}
			rows := make([][]string, 0, len(list))
			for _, a := range list {
				rows = append(rows, []string{a.alias(), a.Platform, a.details()})
			}
			return rows, nil
		},
	})
}

func newAuthorizationsInfoCmd() *cobra.Command {
	var f *appFlags
	var asJSON *bool
	cmd := &cobra.Command{
		Use:   "authorizations:info ALIAS",
		Short: "Show an authorization",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.connect(cmd.Context())
			if err != nil {
				return err
			}
			raw, err := c.do(cmd.Context(), http.MethodGet, c.path("authorizations", args[0]), nil)
			if err != nil {
				return err
			}
			if *asJSON {
				return printJSON(cmd.OutOrStdout(), raw)
			}
			var a authorization
			if err := c.decode(raw, &a); err != nil {
				return err
			}
			printFields(cmd.OutOrStdout(), a.fields())
			return nil
		},
	}
	f = addAppFlags(cmd)
	asJSON = infoJSON(cmd)
	return cmd
}

func newAuthorizationsDestroyCmd() *cobra.Command {
	return newDestroyCmd("authorizations:destroy ALIAS", "Revoke and destroy an authorization", "authorization", "authorizations")
}

// authorizationRequest is the body of POST platforms/salesforce/authorizations;
// absent flags are omitted.
type authorizationRequest struct {
	Alias        string `json:"alias"`
	LoginURL     string `json:"login_url,omitempty"`
	ClientID     string `json:"client_id,omitempty"`
	ClientSecret string `json:"client_secret,omitempty"`
	Username     string `json:"username,omitempty"`
	JWTKey       string `json:"jwt_key,omitempty"`
	Allocation   int64  `json:"allocation,omitempty"`
}

// errCancelled ends the web flow when the user pressed q or Ctrl-C.
var errCancelled = errors.New("authorization cancelled")

func newAuthorizationsSalesforceCreateCmd() *cobra.Command {
	var f *appFlags
	var req authorizationRequest
	var browser, keyFile string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "authorizations:salesforce:create ALIAS",
		Short: "Connect a Salesforce org: log in with a browser, or headless with a JWT key or client credentials",
		Long: `Create an authorization to a Salesforce org, named ALIAS.

Without credentials it runs the browser login (OAuth web-server flow with PKCE):
it prints the Salesforce login URL, opens it in a browser and waits until the
login finished. The org's login URL is --login-url, else $SALESFORCE_LOGIN_URL
(which dev:salesforce prints), else https://login.salesforce.com. Headless
flows connect at once:
  --client-id ID --username USER --jwt-key-file KEY.pem   JWT bearer
  --client-id ID --client-secret SECRET                   client credentials (needs a My Domain --login-url)`,
		Example: `  herokuevents authorizations:salesforce:create my-org -a my-app
  herokuevents authorizations:salesforce:create my-sandbox --login-url https://test.salesforce.com --browser firefox -a my-app
  herokuevents authorizations:salesforce:create ci-org --client-id 3MVG9… --username ci@example.com --jwt-key-file server.key -a my-app`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req.Alias = args[0]
			switch {
			case keyFile != "" && (req.ClientID == "" || req.Username == ""):
				return errors.New("--jwt-key-file needs --client-id and --username")
			case req.Username != "" && keyFile == "":
				return errors.New("--username is only used with --jwt-key-file (JWT bearer flow)")
			case req.ClientSecret != "" && req.ClientID == "":
				return errors.New("--client-secret needs --client-id")
			case req.ClientSecret != "" && keyFile != "":
				return errors.New("use either --client-secret or --jwt-key-file, not both")
			}
			if keyFile != "" {
				b, err := os.ReadFile(keyFile)
				if err != nil {
					return fmt.Errorf("read --jwt-key-file: %w", err)
				}
				req.JWTKey = string(b)
			}
			c, err := f.connect(cmd.Context())
			if err != nil {
				return err
			}
			errw := cmd.ErrOrStderr()
			// printCreated prints the authorization as it is now with --json.
			printCreated := func() error {
				if !asJSON {
					return nil
				}
				raw, err := c.do(cmd.Context(), http.MethodGet, c.path("authorizations", req.Alias), nil)
				if err != nil {
					return err
				}
				return printJSON(cmd.OutOrStdout(), raw)
			}
			if req.JWTKey != "" || req.ClientSecret != "" {
				err := action(errw, "Creating authorization "+req.Alias, func() error {
					return c.call(cmd.Context(), http.MethodPost, c.path("platforms", "salesforce", "authorizations"), req, nil)
				})
				if err != nil {
					return err
				}
				return printCreated()
			}
			var a authorization
			if err := c.call(cmd.Context(), http.MethodPost, c.path("platforms", "salesforce", "authorizations"), req, &a); err != nil {
				return err
			}
			if err := webFlow(cmd, c, a, browser); err != nil {
				return err
			}
			return printCreated()
		},
	}
	f = addAppFlags(cmd)
	fl := cmd.Flags()
	fl.BoolVar(&asJSON, "json", false, "output the created authorization in json format")
	fl.StringVar(&req.LoginURL, "login-url", os.Getenv("SALESFORCE_LOGIN_URL"),
		"Salesforce login URL: https://login.salesforce.com, https://test.salesforce.com or a My Domain (default $SALESFORCE_LOGIN_URL, else login.salesforce.com)")
	fl.StringVar(&browser, "browser", os.Getenv("BROWSER"), "browser to open the login page with, e.g. firefox (default $BROWSER, else the system's)")
	fl.StringVar(&req.ClientID, "client-id", "", "consumer key of your connected app (headless flows, or your own app for the browser login)")
	fl.StringVar(&req.ClientSecret, "client-secret", "", "consumer secret: client credentials flow")
	fl.StringVar(&req.Username, "username", "", "Salesforce username: JWT bearer flow")
	fl.Int64Var(&req.Allocation, "allocation", 0, "the org's event delivery allocation per 24 h (e.g. 50000): subscriptions:info shows the usage against it and warns at 80 %")
	fl.StringVar(&keyFile, "jwt-key-file", "", "PEM file of the RSA private key whose certificate the connected app holds: JWT bearer flow")
	return cmd
}

// webFlow sends the user to the authorize URL and waits for the callback
// (reference §5.3). q or Ctrl-C deletes the pending authorization.
func webFlow(cmd *cobra.Command, c *apiClient, a authorization, browser string) error {
	ctx := cmd.Context()
	errw := cmd.ErrOrStderr()
	uri := a.Extra.RedirectURI
	if uri == "" {
		return errors.New("the API answered no login URL for the authorization")
	}
	cancel := func(cause error) error {
		dctx, done := context.WithTimeout(context.WithoutCancel(ctx), requestTimeout)
		defer done()
		if _, err := c.do(dctx, http.MethodDelete, c.path("authorizations", a.ID), nil); err != nil {
			fmt.Fprintf(errw, " ▸    Could not delete the pending authorization %s: %v\n", a.alias(), err)
		}
		return cause
	}
	fmt.Fprintf(errw, "Opening browser to %s\n", uri)
	open := browser != ""
	if in := cmd.InOrStdin(); isTerminal(in) {
		fmt.Fprint(errw, "Press any key to open up the browser to authenticate with Salesforce, or q to exit: ")
		key, err := readKey(ctx, in)
		fmt.Fprintln(errw)
		if err != nil || strings.EqualFold(key, "q") {
			return cancel(errCancelled)
		}
		open = true
	}
	if open {
		if err := openBrowser(browser, uri); err != nil {
			fmt.Fprintln(errw, " ▸    Cannot open browser.")
		}
	}
	fmt.Fprint(errw, "Heroku Events: Waiting for authentication... ")
	t := time.NewTicker(authPollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fmt.Fprintln(errw, "!")
			return cancel(errCancelled)
		case <-t.C:
		}
		var cur authorization
		err := c.call(ctx, http.MethodGet, c.path("authorizations", a.ID), nil, &cur)
		var ae *apiError
		switch {
		case ctx.Err() != nil:
			continue
		case errors.As(err, &ae) && ae.Status == http.StatusNotFound:
			fmt.Fprintln(errw, "!")
			return fmt.Errorf("authorization %s was deleted while waiting for the login", a.alias())
		case errors.As(err, &ae) && ae.Status/100 == 4:
			fmt.Fprintln(errw, "!")
			return err
		case err != nil:
			continue // transient: keep waiting
		case cur.url() != "":
			fmt.Fprintln(errw, "done")
			return nil
		case cur.Status == "failing":
			fmt.Fprintln(errw, "!")
			msg := cur.LastError
			if msg == "" {
				msg = "the login failed"
			}
			return fmt.Errorf("authorization %s failed: %s", a.alias(), msg)
		}
	}
}

// readKey reads one line (the terminal is in line mode) and returns its
// first character; Ctrl-C cancels ctx.
func readKey(ctx context.Context, in io.Reader) (string, error) {
	type res struct {
		line string
		err  error
	}
	ch := make(chan res, 1)
	go func() {
		line, err := bufio.NewReader(in).ReadString('\n')
		ch <- res{line, err}
	}()
	select {
	case <-ctx.Done():
		return "", ctx.Err()
	case r := <-ch:
		line := strings.TrimSpace(r.line)
		if r.err != nil && line == "" && !errors.Is(r.err, io.EOF) {
			return "", r.err
		}
		if line == "" {
			return " ", nil
		}
		return line[:1], nil
	}
}
