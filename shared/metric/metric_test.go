package metric

import (
	"testing"
	"time"
)

func TestDiscardRecordsNothing(t *testing.T) {
	// Discard must satisfy Recorder and be callable without a sink.
	var r Recorder = Discard
	r.Count(t.Context(), Ingested, 1, "Platform", "webhook")
	r.Duration(t.Context(), DeliveryLatency, time.Second)
	if r != Discard {
		t.Fatal("Discard changed")
	}
}
