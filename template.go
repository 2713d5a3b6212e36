// Package herokuevents holds the AWS SAM template of the function bundle,
// embedded so that the embedded mode runs with exactly the queue and
// consumer numbers the cloud deployment uses (see shared/stack).
package herokuevents

import _ "embed"

// Template is template.yaml, the AWS SAM template of herokuevents.
//
//go:embed template.yaml
var Template []byte
