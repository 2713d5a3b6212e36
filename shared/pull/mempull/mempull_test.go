package mempull_test

import (
	"testing"
	"time"

	"github.com/herokuevents/herokuevents/shared/pull"
	"github.com/herokuevents/herokuevents/shared/pull/mempull"
	"github.com/herokuevents/herokuevents/shared/pull/pulltest"
)

func TestConformance(t *testing.T) {
	pulltest.Run(t, func(_ *testing.T, retention time.Duration, now func() time.Time) pull.Buffer {
		return mempull.New(retention, now)
	})
}
