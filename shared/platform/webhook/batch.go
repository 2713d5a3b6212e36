package webhook

import (
	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/platform"
)

// BatchContentType is the media type of a batched delivery: a JSON array of
// structured-mode CloudEvents (the batched format of the CloudEvents JSON
// event format). A publication whose content_type is LegacyContentType gets
// its batches as application/json.
const BatchContentType = "application/cloudevents-batch+json"

// HeaderBatchSize carries the number of events of a batched delivery.
const HeaderBatchSize = "Heroku-Events-Batch-Size"

// CheckBatch validates the batch settings of a publication in mode
// (platform.CheckBatch); batches are structured JSON, so binary mode takes
// none.
func CheckBatch(mode string, size int, window string) (int, string, error) {
	size, window, err := platform.CheckBatch(size, window)
	if err == nil && size > 0 && mode == ModeBinary {
		return 0, "", config.Invalid("batch_size: a batch is a JSON array of structured CloudEvents; binary mode sends one event per request.")
	}
	return size, window, err
}

// updateBatch applies an update's batch_size and batch_window (nil:
// unchanged) to the settings of p and checks the result. A new size
// without a window keeps the current window; batch_size 0 turns batching
// off and drops the window.
func updateBatch(p config.Params, size *int, window *string) (int, string, error) {
	s, w := p.BatchSize, p.BatchWindow
	if size != nil {
		s = *size
		if s == 0 && window == nil {
			w = ""
		}
	}
	if window != nil {
		w = *window
	}
	return CheckBatch(p.Mode, s, w)
}
