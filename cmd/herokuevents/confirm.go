package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
)

// terminal is implemented by inputs that know whether they are interactive;
// tests use it to stand in for a TTY.
type terminal interface {
	IsTerminal() bool
}

// isTerminal reports whether r is an interactive terminal.
func isTerminal(r io.Reader) bool {
	switch in := r.(type) {
	case terminal:
		return in.IsTerminal()
	case *os.File:
		// A character device other than /dev/null: portable enough without
		// an ioctl, and scripts redirecting from /dev/null are not prompted.
		fi, err := in.Stat()
		if err != nil || fi.Mode()&os.ModeCharDevice == 0 {
			return false
		}
		null, err := os.Stat(os.DevNull)
		return err != nil || !os.SameFile(fi, null)
	}
	return false
}

// addConfirmFlag declares -c/--confirm APP on a destructive command.
func addConfirmFlag(cmd *cobra.Command) *string {
	return cmd.Flags().StringP("confirm", "c", "", "set to app name to bypass confirm prompt")
}

// confirmApp makes sure the user means to change app: confirm must equal it,
// or, without confirm, the user types the app name on an interactive stdin.
func confirmApp(cmd *cobra.Command, app, confirm string) error {
	if confirm == "" {
		in := cmd.InOrStdin()
		if !isTerminal(in) {
			return fmt.Errorf("this command is destructive and stdin is not a terminal: pass --confirm %s", app)
		}
		errw := cmd.ErrOrStderr()
		fmt.Fprintln(errw, " ▸    WARNING: Destructive Action")
		fmt.Fprintln(errw, " ▸    This command will affect the app "+app)
		fmt.Fprintf(errw, " ▸    To proceed, type %s or re-run this command with --confirm %s\n\n", app, app)
		fmt.Fprint(errw, "> ")
		line, err := bufio.NewReader(in).ReadString('\n')
		if err != nil && line == "" {
			return fmt.Errorf("no confirmation typed: pass --confirm %s", app)
		}
		confirm = strings.TrimSpace(line)
	}
	if confirm != app {
		//lint:ignore ST1005 the text of the Heroku CLI, printed as is
		return fmt.Errorf("Confirmation %s did not match %s. Aborted.", confirm, app)
	}
	return nil
}
