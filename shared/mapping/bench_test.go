package mapping

import (
	"testing"
)

const benchFilter = `root = if this.Context__c.string == "drop" { deleted() } else { this }`

var benchDoc = []byte(`{"Context__c":{"string":"keep"},"CreatedById":"005Ws000001eUtGIAU","CreatedDate":1733842936000,"Order":{"TotalValue":1234.5,"Lines":[1,2,3]}}`)

// BenchmarkApplyInWorker is a filter run through a worker process, as
// every mapping runs.
func BenchmarkApplyInWorker(b *testing.B) {
	m, err := Compile(benchFilter)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, _, err := m.ApplyMeta(benchDoc, map[string]any{"subject": "/event/X__e"}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkApplyInProcess is the same evaluation without the worker: what
// running Bloblang in the server cost before mappings were bounded.
func BenchmarkApplyInProcess(b *testing.B) {
	exec, err := env.Parse(benchFilter)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, _, _, err := run(exec, benchDoc, []byte(`{"subject":"/event/X__e"}`), DefaultOutput); err != nil {
			b.Fatal(err)
		}
	}
}
