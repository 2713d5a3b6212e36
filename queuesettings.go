package herokuevents

import "github.com/herokuevents/herokuevents/shared/queue"

//go:generate go test -run TestQueueSettingsGenerated -update .

// QueueSettings returns the SQS→Lambda settings template.yaml declares for
// function's SQS event of queueID, as samtemplate's Template.QueueSettings
// reads them, and false when the template declares no such event. They
// come from a table generated from the template (queuesettings_gen.go,
// kept equal to it by TestQueueSettingsGenerated): a Lambda function reads
// its settings at init without parsing YAML, which cost the deliver and
// filter functions 1–2 ms of every cold start.
func QueueSettings(function, queueID string) (queue.Settings, bool) {
	s, ok := queueSettings[[2]string{function, queueID}]
	return s, ok
}
