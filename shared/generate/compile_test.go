package generate_test

import (
	"github.com/herokuevents/herokuevents/shared/generate"
	"github.com/herokuevents/herokuevents/shared/mapping"
)

var mappings = &mapping.Cache{}

// compile compiles mappings with shared/mapping, as the wiring does.
func compile(src string) (generate.Program, error) { return mappings.Get(src) }
