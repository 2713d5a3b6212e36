package queue

import "context"

// ByGroup returns a Sender that sends the messages with a Group to ordered
// (a queue that honours groups: in AWS the FIFO delivery queue) and the
// others to plain, keeping today's path for them. With a nil ordered,
// everything goes to plain. Each call sends to each queue at most once;
// on error some messages may have been queued (as with any Sender).
func ByGroup(plain, ordered Sender) Sender {
	if ordered == nil {
		return plain
	}
	return SenderFunc(func(ctx context.Context, msgs ...Message) error {
		var p, o []Message
		for _, m := range msgs {
			if m.Group != "" {
				o = append(o, m)
			} else {
				p = append(p, m)
			}
		}
		if len(o) == 0 {
			return plain.Send(ctx, msgs...)
		}
		if len(p) > 0 {
			if err := plain.Send(ctx, p...); err != nil {
				return err
			}
		}
		return ordered.Send(ctx, o...)
	})
}
