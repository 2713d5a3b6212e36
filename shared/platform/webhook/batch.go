package webhook

// BatchContentType is the media type of a batched delivery: a JSON array of
// structured-mode CloudEvents (the batched format of the CloudEvents JSON
// event format). A publication whose content_type is LegacyContentType gets
// its batches as application/json.
const BatchContentType = "application/cloudevents-batch+json"

// HeaderBatchSize carries the number of events of a batched delivery.
const HeaderBatchSize = "Heroku-Events-Batch-Size"
