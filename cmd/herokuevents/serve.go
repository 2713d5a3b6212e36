package main

import (
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/herokuevents/herokuevents/infra/embedded"
	"github.com/herokuevents/herokuevents/shared/sink"
)

func init() { register(newServeCmd) }

func newServeCmd() *cobra.Command {
	var (
		addr, dataDir, app, logLevel string
		allow                        []string
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run herokuevents in one process (the embedded mode): API, publish URL, filter and delivery",
		Long: `Run every role of herokuevents in one durable process, with no cloud account.

At start it makes sure the tenant of --app exists and prints its config vars as
NAME=value lines on stdout (logs go to stderr), so you can:

  eval "$(herokuevents serve … | head -3 | sed 's/^/export /')"

Outbound HTTP refuses private, loopback and link-local addresses unless
--allow-egress (or HEROKUEVENTS_ALLOW_EGRESS, comma-separated) allows them.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			logger, err := jsonLogger(cmd, logLevel)
			if err != nil {
				return err
			}
			slog.SetDefault(logger)
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
			srv, err := embedded.Start(cmd.Context(), embedded.Options{
				Addr: addr, DataDir: dataDir, App: app, AllowEgress: prefixes, Logger: logger,
			})
			if err != nil {
				return err
			}
			for _, line := range srv.ConfigVars() {
				fmt.Fprintln(cmd.OutOrStdout(), line)
			}
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
	f.StringVar(&app, "app", "my-app", "app whose tenant is made ready at start")
	f.StringSliceVar(&allow, "allow-egress", nil, "CIDR that outbound HTTP may reach although private or loopback (repeatable)")
	f.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	return cmd
}
