package awslocal

import "net/http"

// Operator returns the operator's credentials (OperatorId and
// OperatorPassword parameters), as Heroku holds them.
func (s *Stack) Operator() (user, password string) {
	return s.Params["OperatorId"], s.Params["OperatorPassword"]
}

// AsOperator authenticates a request as the operator (Basic auth with the
// OperatorId and OperatorPassword parameters).
func (s *Stack) AsOperator(r *http.Request) { r.SetBasicAuth(s.Operator()) }
