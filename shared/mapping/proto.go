package mapping

import "fmt"

// The worker protocol: gob-encoded requests on the worker's stdin, one
// response each on its stdout, in order. The worker writes one empty
// response when it is ready.

const (
	opCompile = 1
	opApply   = 2
)

type request struct {
	Op   int
	Src  string
	Data []byte
	// Meta is the JSON object shown at this._herokuevents, or nil.
	Meta []byte
	// Output is the largest result accepted, in bytes.
	Output int
	// CPU is the processor time the request may use, in nanoseconds: the
	// worker stops itself (exitTime) when it uses more.
	CPU int64
}

// Kinds of response errors.
const (
	kindNone    = 0
	kindCompile = 1
	kindLimit   = 2
	kindRun     = 3
)

type response struct {
	Out     []byte
	Deleted bool
	// Same: the result equals the input; the caller keeps its bytes.
	Same bool
	Kind int
	Err  string
}

// err is the error the response carries, wrapped as its kind says.
func (r *response) err() error {
	switch r.Kind {
	case kindNone:
		return nil
	case kindCompile:
		return fmt.Errorf("%w: %s", ErrCompile, r.Err)
	case kindLimit:
		return fmt.Errorf("%w: %s", ErrLimit, r.Err)
	}
	return fmt.Errorf("run mapping: %s", r.Err)
}
