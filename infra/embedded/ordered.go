package embedded

import (
	"github.com/herokuevents/herokuevents"
	"github.com/herokuevents/herokuevents/infra/embedded/sqlitequeue"
	"github.com/herokuevents/herokuevents/infra/samtemplate"
	"github.com/herokuevents/herokuevents/shared/backlog"
	"github.com/herokuevents/herokuevents/shared/queue"
)

// Ordered lanes (publications created with --ordered-by) in the embedded
// mode: their deliveries go to their own SQLite queue, OrderedQueue, with
// the settings of the deliver function's second event source
// (OrderedDeliveryQueue.fifo in template.yaml). Each delivery's queue
// group (tenant, publication, key) keeps a lane's deliveries one at a time
// in publish order (sqlitequeue parks the later ones behind the head), and
// a failed head is retried in place; unordered deliveries keep the
// delivery queue and its path. Dead letters of both go to the delivery
// dead-letter queue.

// OrderedQueue is the queue of ordered lanes.
const OrderedQueue = DeliveryQueue + "-ordered"

// orderedLanes returns the ordered queue's consumer settings, sets its
// fairness lanes (by publication, as the delivery queue's) and returns
// the sender the roles queue deliveries with: grouped ones to ordered,
// the others to delivery.
func orderedLanes(waiting *backlog.Counter, delivery, ordered *sqlitequeue.Queue) (queue.Settings, queue.Sender, error) {
	tpl, err := samtemplate.Parse(herokuevents.Template)
	if err != nil {
		return queue.Settings{}, nil, err
	}
	s, err := tpl.QueueSettings("DeliverFunction", "OrderedDeliveryQueue")
	if err != nil {
		return queue.Settings{}, nil, err
	}
	ordered.Lanes(deliveryLane, laneCap(s.Concurrency))
	return s, queue.ByGroup(waiting.Sender(delivery), waiting.Sender(ordered)), nil
}
