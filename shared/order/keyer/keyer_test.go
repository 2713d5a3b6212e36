package keyer_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/event"
	"github.com/herokuevents/herokuevents/shared/mapping"
	"github.com/herokuevents/herokuevents/shared/order"
	"github.com/herokuevents/herokuevents/shared/order/keyer"
)

func TestCustomKey(t *testing.T) {
	var k keyer.Keyer
	ev := event.Event{ID: "e1", Source: "/s", Type: event.TypePublish, Subject: "sub", Data: []byte(`{"order":{"id":42,"ref":"A-1"}}`)}
	tests := []struct {
		expr, want string
		err        error
	}{
		{`this.order.ref`, "A-1", nil},
		{"this.order.ref # a trailing comment", "A-1", nil},
		{`this.order.id`, "42", nil},
		{`this._herokuevents.subject + "/x"`, "sub/x", nil},
		{`this.missing`, "", nil},
		{`this.order.ref.number()`, "", order.ErrKey},
	}
	for _, tc := range tests {
		t.Run(tc.expr, func(t *testing.T) {
			got, err := k.Key(&config.Order{By: tc.expr}, ev)
			if tc.err != nil {
				require.ErrorIs(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
	require.NoError(t, keyer.Check(`this.order.id`))
	require.ErrorIs(t, keyer.Check(`this.order.(`), mapping.ErrCompile)
	require.ErrorIs(t, keyer.Check(" "), mapping.ErrCompile)
}
