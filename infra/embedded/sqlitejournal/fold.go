package sqlitejournal

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/herokuevents/herokuevents/shared/journal"
)

// Folding. An event going through a stream is accepted, then routed (or
// filtered out) by each of its subscription's streams: entries appended
// at about the same moment, read only together (Event), never by
// publication (Attempts reads attempts alone). One Append writes each
// run of such entries of one event as one row: its stage column says
// foldedStage (its publication and outcome are empty), its detail is the
// JSON array of their details with their own times, stages, publications
// and outcomes, and its time is the newest of theirs (so the age prune
// keeps it while any of them is young; Event leaves out its entries older
// than the retention age). A version before folding cannot read such a
// row: its trace of the event fails.
// The stream path writes three entries per event (accepted, routed, the
// first attempt): two rows instead of three; an event of a subscription
// feeding ten streams is accepted and routed ten times: one row instead
// of eleven, besides its attempts (BenchmarkAppendStream: 17.0,
// 16.5 and 17.6 cpu-µs per entry before, 13.6, 14.3 and 16.7 after).
//
// A run is the entries of one event in one Append that are neither
// attempts nor keep the event, with none of the event's other entries
// appended between them: so reading a row's entries in place of the row
// keeps the order of append.

// foldedStage is the stage column of a row holding a run of entries.
const foldedStage = "folded"

// row is one row to insert: one entry, or a run of entries of one event
// (folded).
type row struct {
	e             journal.Entry // the entry, or the run's first
	detail, event []byte
	at            time.Time // e.Time, or the run's newest
	folded        []journal.Entry
}

// foldable reports whether e may share a row with other entries of its
// event.
func foldable(e journal.Entry) bool { return e.Stage != journal.Attempt && e.Event == nil }

// fold checks and encodes entries as the rows to insert, in order.
func fold(entries []journal.Entry) ([]row, error) {
	rows := make([]row, 0, len(entries))
	open := map[[2]string]int{} // an event's run being gathered: its row
	for _, e := range entries {
		e = journal.Clip(e)
		if err := e.Check(); err != nil {
			return nil, err
		}
		k := [2]string{e.Tenant, e.EventID}
		i, ok := open[k]
		switch {
		case !foldable(e):
			delete(open, k) // a later entry starts a new run
		case ok:
			r := &rows[i]
			if r.folded == nil {
				r.folded = []journal.Entry{r.e}
			}
			r.folded = append(r.folded, e)
			if e.Time.After(r.at) {
				r.at = e.Time
			}
			continue
		default:
			open[k] = len(rows)
		}
		rows = append(rows, row{e: e, at: e.Time})
	}
	for i := range rows {
		r := &rows[i]
		var err error
		if r.folded != nil {
			r.detail, err = foldedDetail(r.folded)
		} else if r.detail, err = detail(r.e); err == nil {
			r.event, err = journal.MarshalEvent(r.e)
		}
		if err != nil {
			return nil, err
		}
	}
	return rows, nil
}

// foldedDetail is the detail of a row holding entries: the JSON array of
// their details, each with its time, stage, publication and outcome.
func foldedDetail(entries []journal.Entry) ([]byte, error) {
	b := []byte{'['}
	for i, e := range entries {
		d, err := journal.MarshalDetail(e)
		if err != nil {
			return nil, err
		}
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, d...)
	}
	return append(b, ']'), nil
}

// unfold decodes the entries of a folded row's detail d, leaving out
// those older than cutoff (Unix ns).
func unfold(tenant, eventID string, d []byte, cutoff int64) ([]journal.Entry, error) {
	var parts []json.RawMessage
	if err := json.Unmarshal(d, &parts); err != nil {
		return nil, fmt.Errorf("decode journal entries of event %s: %w", eventID, err)
	}
	out := make([]journal.Entry, 0, len(parts))
	for _, p := range parts {
		e, err := journal.UnmarshalDetail(tenant, eventID, p)
		if err != nil {
			return nil, err
		}
		if nanos(e.Time) >= cutoff {
			out = append(out, e)
		}
	}
	return out, nil
}

// placed is an entry read by Event and the seq of its row, to sort by
// time and then append order.
type placed struct {
	e   journal.Entry
	seq int64
}

// inOrder returns the entries of ps by time, then by append order (seq;
// the entries of one row in their order).
func inOrder(ps []placed) []journal.Entry {
	slices.SortStableFunc(ps, func(a, b placed) int {
		return cmp.Or(a.e.Time.Compare(b.e.Time), cmp.Compare(a.seq, b.seq))
	})
	out := make([]journal.Entry, len(ps))
	for i, p := range ps {
		out[i] = p.e
	}
	return out
}
