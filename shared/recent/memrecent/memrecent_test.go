package memrecent_test

import (
	"testing"

	"github.com/herokuevents/herokuevents/shared/recent"
	"github.com/herokuevents/herokuevents/shared/recent/memrecent"
	"github.com/herokuevents/herokuevents/shared/recent/recenttest"
)

func TestConformance(t *testing.T) {
	recenttest.Run(t, func(_ *testing.T, l recent.Limits) recent.Store { return memrecent.New(l) })
}
