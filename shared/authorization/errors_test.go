package authorization_test

import (
	"errors"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/herokuevents/herokuevents/shared/authorization"
	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/httpjson"
)

// The service's errors are domain errors: the HTTP edge maps them like any
// config problem, and both its own kinds and config's match.
func TestErrorsAreDomainErrors(t *testing.T) {
	tests := []struct {
		kind, is error
		status   int
	}{
		{authorization.ErrNotFound, config.ErrNotFound, http.StatusNotFound},
		{authorization.ErrExists, config.ErrConflict, http.StatusConflict},
		{authorization.ErrInvalid, config.ErrInvalid, http.StatusUnprocessableEntity},
		{authorization.ErrNotConnected, config.ErrInvalid, http.StatusUnprocessableEntity},
	}
	for _, tt := range tests {
		t.Run(tt.kind.Error(), func(t *testing.T) {
			err := &authorization.Error{Kind: tt.kind, Message: "Shown to the user."}
			assert.True(t, errors.Is(err, tt.kind))
			assert.True(t, errors.Is(err, tt.is))
			assert.Equal(t, "Shown to the user.", authorization.Message(err))
			e := httpjson.AsError(err)
			assert.Equal(t, tt.status, e.Status)
			assert.Equal(t, "Shown to the user.", e.Message)
		})
	}
	for _, own := range []error{authorization.ErrUnreachable, authorization.ErrState} {
		assert.False(t, errors.Is(own, config.ErrInvalid), "%v is the edge's to map", own)
	}

	err := authorization.ValidateAlias("1org")
	assert.True(t, errors.Is(err, authorization.ErrInvalid))
	assert.True(t, errors.Is(err, config.ErrInvalid))
	assert.Contains(t, authorization.Message(err), `alias "1org" is invalid`)
}
