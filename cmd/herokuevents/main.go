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
)

// commands holds the constructors of the top-level commands; every command
// file registers its own from init.
var commands []func() *cobra.Command

// register adds top-level command constructors.
func register(fns ...func() *cobra.Command) { commands = append(commands, fns...) }

// newRoot builds the command tree. Every command is also reachable with the
// `events:` prefix of the Heroku CLI plugin (events:subscriptions, …).
func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:           "herokuevents",
		Short:         "Real-time eventing for apps: subscriptions, publications and streams",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	for _, fn := range commands {
		c := fn()
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
	return slog.New(slog.NewJSONHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: l})), nil
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
