// Command herokuevents is the CLI of herokuevents: the `heroku events:*`
// commands against the management API, and `herokuevents serve`, the
// embedded mode that runs every role in one process.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/herokuevents/herokuevents/shared/logjson"
	"github.com/herokuevents/herokuevents/shared/platform"
	"github.com/herokuevents/herokuevents/shared/platform/catalog"
)

// commands holds the constructors of the top-level commands; every command
// file registers its own from init.
var commands []func() *cobra.Command

// register adds top-level command constructors.
func register(fns ...func() *cobra.Command) { commands = append(commands, fns...) }

// newRoot builds the command tree with every platform of the catalog.
func newRoot() *cobra.Command { return newRootWith(catalog.All()) }

// newRootWith builds the command tree, with the create commands of
// platforms. Every command is also reachable with the `events:` prefix of
// the Heroku CLI plugin (events:subscriptions, …).
func newRootWith(platforms []platform.Platform) *cobra.Command {
	root := &cobra.Command{
		Use:           "herokuevents",
		Short:         "Real-time eventing for apps: subscriptions, publications and streams",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	cmds := make([]*cobra.Command, 0, len(commands))
	for _, fn := range commands {
		cmds = append(cmds, fn())
	}
	for _, c := range append(cmds, platformCommands(platforms)...) {
		name := strings.Fields(c.Use)[0]
		c.Aliases = append(c.Aliases, "events:"+name)
		root.AddCommand(c)
	}
	return root
}

// jsonLogger returns the JSON logger of a long-running command, writing to
// its stderr at the --log-level given (debug, info, warn or error).
func jsonLogger(cmd *cobra.Command, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: use debug, info, warn or error", level)
	}
	return logjson.New(cmd.ErrOrStderr(), l), nil
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRoot().ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, " ▸    "+err.Error())
		os.Exit(1)
	}
}
