package partner_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestPlatformEventTooLargeToQueue: a deploy whose detail would make a
// notification the queue cannot carry at its largest (the payload is kept
// as a JSON string, so quotes double) is refused with 413 and queues
// nothing; one that fits is queued for every opted-in partner.
func TestPlatformEventTooLargeToQueue(t *testing.T) {
	ps := newPartnerServer(t, false, nil)
	h := newHarness(t, harnessOptions{})
	h.createPartner(t, manifest("one", "pw", "https://one.example.com", ps.base(), "deploy_notify"), `"test":true`)
	h.createPartner(t, manifest("two", "pw", "https://two.example.com", ps.base(), "deploy_notify"), `"test":true`)
	h.attach(t, "my-app", `{"partner":"one","resource_id":"r1"}`)
	h.attach(t, "my-app", `{"partner":"two","resource_id":"r2"}`)

	quotes := strings.Repeat(`\"`, 300_000) // 600 KB posted, 1.2 MB once escaped again
	status, out := h.call(t, http.MethodPost, "/v1/platform/events", opID+":"+opPass,
		`{"heroku_id":"my-app@heroku.com","event":"deploy","detail":{"git_log":"`+quotes+`"}}`)
	assert.Equal(t, http.StatusRequestEntityTooLarge, status, out)
	assert.Contains(t, out, "payload_too_large")
	assert.Contains(t, out, "over the 1048576-byte limit")
	assert.Equal(t, 0, h.queue.len(), "a refused event queues nothing")

	assert.Equal(t, 2, h.platform(t, `{"heroku_id":"my-app@heroku.com","event":"deploy","detail":{"git_log":"`+strings.Repeat("a", 500_000)+`"}}`))
}
