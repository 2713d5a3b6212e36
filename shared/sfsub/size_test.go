package sfsub_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/queue"
	"github.com/herokuevents/herokuevents/shared/salesforce/standin"
	"github.com/herokuevents/herokuevents/shared/sfsub"
)

// refusing refuses, as a driver would with ErrInvalid, any call that
// carries a body containing "Refused".
type refusing struct{ *sink }

func (r refusing) Send(ctx context.Context, msgs ...queue.Message) error {
	for i, m := range msgs {
		if strings.Contains(string(m.Body), "Refused") {
			return fmt.Errorf("message %d: not accepted: %w", i, queue.ErrInvalid)
		}
	}
	return r.sink.Send(ctx, msgs...)
}

// TestEventTheQueueCannotCarryIsDeadLettered: in a batch of three change
// events, one too large for the queues and one the queue refuses are each
// queued as a dead letter (no data, the reason in event.Routed.Error, for
// the filter); their neighbours are queued as they are, and the
// subscription goes on past them.
func TestEventTheQueueCannotCarryIsDeadLettered(t *testing.T) {
	e := setup(t)
	bodies := accounts(0, 4)
	bodies[1] = `{"ChangeEventHeader":{"changeType":"CREATE","recordIds":["001xx0000000001AAA"]},"Name":"` + strings.Repeat("n", queue.MaxBody) + `"}`
	bodies[2] = `{"ChangeEventHeader":{"changeType":"CREATE","recordIds":["001xx0000000002AAA"]},"Name":"Refused"}`
	emitted := e.emit(t, standin.AccountChangeTopic, bodies...)
	sub := e.subscribe(t, "accountChange", standin.AccountChangeTopic, sfsub.ReplayEarliest, nil)
	r := e.runner(t, func(o *sfsub.Options) { o.Ingest = refusing{e.sink} })
	runFor(t, r, func() bool { return len(e.sink.all()) == 4 })

	got := e.sink.all()
	require.Len(t, got, 4)
	assert.Equal(t, hexIDs(emitted), replayIDs(got), "every event once, in order")
	for i, rt := range got {
		switch i {
		case 1:
			assert.Contains(t, rt.Error, "the Salesforce event of")
			assert.Contains(t, rt.Error, "over the 1048576-byte limit")
			assert.Empty(t, rt.Event.Data)
		case 2:
			assert.Contains(t, rt.Error, "the queue refused the Salesforce event: message 0: not accepted")
			assert.Empty(t, rt.Event.Data)
		default:
			assert.Empty(t, rt.Error)
			assert.Contains(t, string(rt.Event.Data), fmt.Sprintf(`"Name":{"string":"Acme %d"}`, i))
		}
	}
	st := e.state(t, sub.ID)
	assert.Equal(t, sfsub.StatusActive, st.Status)
	assert.Equal(t, emitted[3].ReplayID, st.Checkpoint, "the subscription went on past them")
}
