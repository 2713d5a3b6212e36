package main

import (
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/herokuevents/herokuevents/infra/embedded"
	"github.com/herokuevents/herokuevents/shared/addon"
	"github.com/herokuevents/herokuevents/shared/dedup"
	"github.com/herokuevents/herokuevents/shared/heroku"
	"github.com/herokuevents/herokuevents/shared/journal"
	"github.com/herokuevents/herokuevents/shared/sink"
)

func init() { register(newServeCmd) }

func newServeCmd() *cobra.Command {
	var (
		addr, dataDir, app, logLevel, manifestPath string
		allow                                      []string
		retention                                  journal.Retention
		resetQueues                                bool
		dedupWindow                                time.Duration
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run herokuevents in one process (the embedded mode): API, publish URL, filter and delivery",
		Long: `Run every role of herokuevents in one durable process, with no cloud account.

At start it makes sure the tenant of --app exists. Once it listens, on a
terminal it prints a ready line and the export lines of the app's config vars
to paste in another terminal; piped, it prints only the config vars as
NAME=value lines, so you can:

  eval "$(herokuevents serve … | head -3 | sed 's/^/export /')"

Logs are JSON on stderr.

Outbound HTTP refuses private, loopback, link-local, documentation and
benchmarking addresses, and this host's own, unless --allow-egress (or
HEROKUEVENTS_ALLOW_EGRESS, comma-separated) allows them.

The data dir is checked at start: a missing config.db, queues.db or
seal.key beside the other files, or a damaged one, stops serve with the file
named and the way back (nothing is re-made). Its files are 0600.

Garbage collection runs at GOGC=200 (the heap may grow to three times what
is live between collections), with the heap allowed 64 MiB at least: a few
% less CPU at full load for about 50 MB more memory. Set GOGC in the
environment to run with it instead.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			logger, err := jsonLogger(cmd, logLevel)
			if err != nil {
				return err
			}
			slog.SetDefault(logger)
			embedded.TuneGC(os.Getenv, embedded.GCFloor)
			if env := os.Getenv("HEROKUEVENTS_ALLOW_EGRESS"); env != "" {
				allow = append(allow, strings.Split(env, ",")...)
			}
			var prefixes []netip.Prefix
			for _, a := range allow {
				if strings.TrimSpace(a) == "" {
					continue
				}
				p, err := sink.ParseAllow(a)
				if err != nil {
					return fmt.Errorf("--allow-egress %q: %w", a, err)
				}
				prefixes = append(prefixes, p...)
			}
			if dedupWindow <= 0 {
				return fmt.Errorf("--dedup-window %s: give a positive duration such as 1h", dedupWindow)
			}
			hopts, err := herokuOptions(manifestPath, os.Getenv)
			if err != nil {
				return err
			}
			srv, err := embedded.Start(cmd.Context(), embedded.Options{
				Addr: addr, DataDir: dataDir, App: app, AllowEgress: prefixes, Logger: logger, Journal: retention, ResetQueues: resetQueues,
				DedupWindow: dedupWindow, HerokuOptions: hopts,
			})
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if f, ok := out.(*os.File); ok && isTerminal(f) {
				fmt.Fprint(out, readyText(srv.URL(), app, srv.ConfigVars(), executableDir(), os.Getenv("PATH")))
			} else {
				for _, line := range srv.ConfigVars() {
					fmt.Fprintln(out, line)
				}
			}
			logger.Info("ready", "url", srv.URL(), "app", app)
			select {
			case <-cmd.Context().Done():
			case err = <-srv.Err():
			}
			if cerr := srv.Close(); err == nil {
				err = cerr
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&addr, "addr", "127.0.0.1:5454", "listen address")
	f.StringVar(&dataDir, "data-dir", ".herokuevents", "directory of the store, queues and keys (one process owns it)")
	f.StringVar(&app, "app", "my-app", "app whose tenant is made ready at start (\"\" for none: Heroku provisions)")
	f.StringVar(&manifestPath, "addon-manifest", "", "the add-on manifest (addon-manifest.json): Heroku's Partner API credentials, config var prefix; "+
		"its placeholders take HEROKU_ADDON_PASSWORD and HEROKU_SSO_SALT")
	f.StringSliceVar(&allow, "allow-egress", nil, "CIDR that outbound HTTP may reach although private or loopback (repeatable)")
	f.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	f.BoolVar(&resetQueues, "reset-queues", false, "start with empty queues when queues.db is missing or damaged (a damaged one is kept aside; its events are lost)")
	f.DurationVar(&retention.Age, "journal-retention", journal.DefaultAge, "how long the delivery log (deliveries, trace) keeps entries")
	f.DurationVar(&dedupWindow, "dedup-window", dedup.DefaultWindow, "how long a publish's Idempotency-Key (or CloudEvent source+id) is remembered: a repeat within it gets the first event's id and delivers nothing")
	f.IntVar(&retention.PerPublication, "journal-per-publication", journal.DefaultPerPublication, "the most attempts the delivery log keeps per publication")
	return cmd
}

// readyText is what serve prints on a terminal once it listens: one ready
// line, then the export lines of the config vars (NAME=value) to paste in
// another terminal, with the directory of this binary put on PATH when it
// is not there (bin/ after make run).
func readyText(url, app string, vars []string, binDir, path string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "herokuevents is ready at %s for app %s. In another terminal, paste:\n\n", url, app)
	if binDir != "" && !slices.Contains(filepath.SplitList(path), binDir) {
		fmt.Fprintf(&b, "  export PATH=%s:\"$PATH\"\n", shellQuote(binDir))
	}
	for _, kv := range vars {
		k, v, _ := strings.Cut(kv, "=")
		fmt.Fprintf(&b, "  export %s=%s\n", k, shellQuote(v))
	}
	b.WriteString("\nStop with Ctrl-C; the data stays in the data directory.\n")
	return b.String()
}

// executableDir is the directory of the running binary, "" when unknown or
// a go run build.
func executableDir() string {
	exe, err := os.Executable()
	if err != nil {
		return ""
	}
	dir := filepath.Dir(exe)
	if strings.Contains(dir, "go-build") {
		return ""
	}
	return dir
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("@%+=:,./_-", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// herokuOptions reads the add-on manifest (none when path is empty) and
// the Platform API settings (HEROKU_API_URL, HEROKU_ID_URL,
// HEROKU_OAUTH_CLIENT_SECRET).
func herokuOptions(path string, getenv func(string) string) (embedded.HerokuOptions, error) {
	o := embedded.HerokuOptions{Heroku: heroku.SettingsFromEnv(getenv)}
	if path == "" {
		return o, nil
	}
	m, err := addon.Load(path, getenv)
	if err != nil {
		return o, fmt.Errorf("--addon-manifest: %w", err)
	}
	o.Addon = m
	return o, nil
}
