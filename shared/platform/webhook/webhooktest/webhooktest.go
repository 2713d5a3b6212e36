// Package webhooktest helps tests stand up webhook receivers that consent
// to the CloudEvents webhook handshake, as a receiver that implements the
// spec does; herokuevents asks for it before it creates a publication.
package webhooktest

import "net/http"

// Consent answers the CloudEvents webhook handshake (OPTIONS with
// WebHook-Request-Origin) by granting that origin at any rate, and passes
// every other request to next.
func Consent(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("WebHook-Request-Origin")
		if r.Method != http.MethodOptions || origin == "" {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Allow", "POST, OPTIONS")
		w.Header().Set("WebHook-Allowed-Origin", origin)
		w.Header().Set("WebHook-Allowed-Rate", "*")
		w.WriteHeader(http.StatusOK)
	})
}
