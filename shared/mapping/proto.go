package mapping

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"
)

// The worker protocol, on the worker's stdin and stdout: length-prefixed
// raw bytes (an event is JSON already; nothing is reflected or re-encoded).
// A request carries the mappings it uses and a batch of items; the worker
// answers each item with one response, in order (a compile request gets
// one response). The worker writes one empty response when it is ready.
//
//	request  = op:byte cpu:uvarint output:uvarint
//	           nsrc:uvarint { len:uvarint src }
//	           nitem:uvarint { src:uvarint len:uvarint data len:uvarint meta }
//	response = kind:byte flags:byte cpu:uvarint len:uvarint (out | error text)
//
// cpu is the processor time the item used, in nanoseconds: what the pool
// charges the item's tenant (fair.go).

const (
	opCompile = 1
	opApply   = 2
)

// maxField bounds one field of a frame: a corrupt length never allocates
// more (an event and its result are at most a few MiB).
const maxField = 64 << 20

// maxItems bounds the items (and mappings) of one request.
const maxItems = 1 << 16

var errFrame = errors.New("bad frame")

type request struct {
	Op byte
	// CPU is the processor time each item may use, in nanoseconds: the
	// worker stops itself (exitTime) when one uses more.
	CPU int64
	// Output is the largest result accepted, in bytes.
	Output int
	// Srcs are the mappings the items use (a compile request: the one to
	// compile).
	Srcs  []string
	Items []item
}

// item is one evaluation: the mapping Srcs[Src] on Data.
type item struct {
	Src  int
	Data []byte
	// Meta is the JSON object shown at this._herokuevents, or nil.
	Meta []byte
}

// Kinds of response errors.
const (
	kindNone    = 0
	kindCompile = 1
	kindLimit   = 2
	kindRun     = 3
	// kindSkipped: not evaluated, the request used its quantum; send
	// again.
	kindSkipped = 4
)

// Response flags.
const (
	flagDeleted = 1
	flagSame    = 2
)

type response struct {
	Out     []byte
	Deleted bool
	// Same: the result equals the input; the caller keeps its bytes.
	Same bool
	Kind int
	Err  string
	// CPU is the processor time the evaluation used.
	CPU time.Duration
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

func putBytes(w *bufio.Writer, b []byte) {
	var n [binary.MaxVarintLen64]byte
	_, _ = w.Write(binary.AppendUvarint(n[:0], uint64(len(b))))
	_, _ = w.Write(b)
}

func putUint(w *bufio.Writer, v uint64) {
	var n [binary.MaxVarintLen64]byte
	_, _ = w.Write(binary.AppendUvarint(n[:0], v))
}

// writeRequest writes req to w (not flushed).
func writeRequest(w *bufio.Writer, req *request) {
	_ = w.WriteByte(req.Op)
	putUint(w, uint64(max(req.CPU, 0)))
	putUint(w, uint64(max(req.Output, 0)))
	putUint(w, uint64(len(req.Srcs)))
	for _, s := range req.Srcs {
		putUint(w, uint64(len(s)))
		_, _ = w.WriteString(s)
	}
	putUint(w, uint64(len(req.Items)))
	for _, it := range req.Items {
		putUint(w, uint64(it.Src))
		putBytes(w, it.Data)
		putBytes(w, it.Meta)
	}
}

// writeResponse writes res to w (not flushed).
func writeResponse(w *bufio.Writer, res *response) {
	_ = w.WriteByte(byte(res.Kind))
	var flags byte
	if res.Deleted {
		flags |= flagDeleted
	}
	if res.Same {
		flags |= flagSame
	}
	_ = w.WriteByte(flags)
	putUint(w, uint64(max(res.CPU, 0)))
	if res.Kind == kindNone {
		putBytes(w, res.Out)
	} else {
		putUint(w, uint64(len(res.Err)))
		_, _ = w.WriteString(res.Err)
	}
}

func readUint(r *bufio.Reader, most uint64) (uint64, error) {
	v, err := binary.ReadUvarint(r)
	if err != nil {
		return 0, err
	}
	if v > most {
		return 0, fmt.Errorf("%w: %d over %d", errFrame, v, most)
	}
	return v, nil
}

// readBytes reads a length-prefixed field; empty is nil.
func readBytes(r *bufio.Reader) ([]byte, error) {
	n, err := readUint(r, maxField)
	if err != nil || n == 0 {
		return nil, err
	}
	if n <= 64<<10 {
		b := make([]byte, n)
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, unexpected(err)
		}
		return b, nil
	}
	// A large field grows with what arrives, not with what its length
	// claims.
	b, err := io.ReadAll(io.LimitReader(r, int64(n)))
	if err != nil {
		return nil, err
	}
	if uint64(len(b)) < n {
		return nil, io.ErrUnexpectedEOF
	}
	return b, nil
}

func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// readRequest reads one request; io.EOF when the input ended between
// requests.
func readRequest(r *bufio.Reader) (*request, error) {
	op, err := r.ReadByte()
	if err != nil {
		return nil, err
	}
	req := &request{Op: op}
	if op != opCompile && op != opApply {
		return nil, fmt.Errorf("%w: op %d", errFrame, op)
	}
	cpu, err := readUint(r, 1<<62)
	if err != nil {
		return nil, unexpected(err)
	}
	out, err := readUint(r, maxField)
	if err != nil {
		return nil, unexpected(err)
	}
	req.CPU, req.Output = int64(cpu), int(out)
	n, err := readUint(r, maxItems)
	if err != nil {
		return nil, unexpected(err)
	}
	req.Srcs = make([]string, n)
	for i := range req.Srcs {
		b, err := readBytes(r)
		if err != nil {
			return nil, unexpected(err)
		}
		req.Srcs[i] = string(b)
	}
	if n, err = readUint(r, maxItems); err != nil {
		return nil, unexpected(err)
	}
	if n > 0 && len(req.Srcs) == 0 {
		return nil, fmt.Errorf("%w: items without mappings", errFrame)
	}
	req.Items = make([]item, n)
	for i := range req.Items {
		it := &req.Items[i]
		src, err := readUint(r, uint64(max(len(req.Srcs)-1, 0)))
		if err != nil {
			return nil, unexpected(err)
		}
		it.Src = int(src)
		if it.Data, err = readBytes(r); err != nil {
			return nil, unexpected(err)
		}
		if it.Meta, err = readBytes(r); err != nil {
			return nil, unexpected(err)
		}
	}
	return req, nil
}

// readResponse reads one response; io.EOF when the output ended between
// responses.
func readResponse(r *bufio.Reader) (*response, error) {
	kind, err := r.ReadByte()
	if err != nil {
		return nil, err
	}
	if kind > kindSkipped {
		return nil, fmt.Errorf("%w: kind %d", errFrame, kind)
	}
	flags, err := r.ReadByte()
	if err != nil {
		return nil, unexpected(err)
	}
	cpu, err := readUint(r, 1<<62)
	if err != nil {
		return nil, unexpected(err)
	}
	b, err := readBytes(r)
	if err != nil {
		return nil, unexpected(err)
	}
	res := &response{Kind: int(kind), Deleted: flags&flagDeleted != 0, Same: flags&flagSame != 0, CPU: time.Duration(cpu)}
	if res.Kind == kindNone {
		res.Out = b
	} else {
		res.Err = string(b)
	}
	return res, nil
}
