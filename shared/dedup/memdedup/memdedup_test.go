package memdedup_test

import (
	"testing"
	"time"

	"github.com/herokuevents/herokuevents/shared/dedup"
	"github.com/herokuevents/herokuevents/shared/dedup/deduptest"
	"github.com/herokuevents/herokuevents/shared/dedup/memdedup"
)

func TestConformance(t *testing.T) {
	deduptest.Run(t, func(t *testing.T, now func() time.Time) dedup.Store { return memdedup.New(now) })
}
