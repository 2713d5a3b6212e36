package config

import (
	"errors"
	"fmt"
)

// ErrInvalid: the input is not acceptable (bad parameters, a name already
// used in another way, a reference to something that cannot be used). Only
// the HTTP edge turns it into a status (422).
var ErrInvalid = errors.New("invalid")

// Problem is a domain error whose message is written for the user: the HTTP
// edge shows Message with the status of Kind (ErrNotFound 404, ErrConflict
// 409, ErrInvalid 422); the CLI prints it as it is. Cause, when set, is kept
// for errors.Is and logs but never shown.
type Problem struct {
	Kind    error
	Message string
	Cause   error
}

func (p *Problem) Error() string { return p.Message }

// Unwrap returns the kind and the cause, so that errors.Is matches both.
func (p *Problem) Unwrap() []error {
	if p.Cause == nil {
		return []error{p.Kind}
	}
	return []error{p.Kind, p.Cause}
}

// Errorf returns a Problem of kind (ErrInvalid, ErrNotFound, ErrConflict …)
// with a formatted message for the user.
func Errorf(kind error, format string, args ...any) error {
	return &Problem{Kind: kind, Message: fmt.Sprintf(format, args...)}
}

// Invalid returns a Problem of kind ErrInvalid.
func Invalid(format string, args ...any) error { return Errorf(ErrInvalid, format, args...) }

// NotFound returns a Problem of kind ErrNotFound.
func NotFound(format string, args ...any) error { return Errorf(ErrNotFound, format, args...) }

// Conflict returns a Problem of kind ErrConflict caused by cause (may be nil).
func Conflict(cause error, format string, args ...any) error {
	return &Problem{Kind: ErrConflict, Message: fmt.Sprintf(format, args...), Cause: cause}
}
