package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

// addBatchUpdateFlags declares the batched-delivery flags of
// publications:update.
func addBatchUpdateFlags(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.Int("batch-size", 0, "webhook: deliver up to N events per request (2 to 100; 0: one event per request)")
	fl.String("batch-window", "", "webhook: how long a batch waits to fill, up to 5s (0: the default, 100ms)")
}

// batchUpdateBody puts the batched-delivery flags given into the update
// body; the API checks their values.
func batchUpdateBody(cmd *cobra.Command, body map[string]any) error {
	fl := cmd.Flags()
	if fl.Changed("batch-size") {
		n, _ := fl.GetInt("batch-size")
		if n < 0 {
			return fmt.Errorf("--batch-size %d: give 2 to 100 events per request, or 0 for one event per request", n)
		}
		body["batch_size"] = n
	}
	if fl.Changed("batch-window") {
		v, _ := fl.GetString("batch-window")
		if err := checkDuration("batch-window", v); err != nil {
			return err
		}
		body["batch_window"] = v
	}
	return nil
}
