// Package salesforcetest holds test helpers around the stand-in org
// (standin) that need a testing.TB.
package salesforcetest

import (
	"context"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"

	"github.com/herokuevents/herokuevents/shared/salesforce/pubsubpb"
	"github.com/herokuevents/herokuevents/shared/salesforce/standin"
)

// NewRawSubscriber opens a Subscribe stream on o with a fresh valid token,
// for tests that send hand-made FetchRequests. The stream ends with tb.
func NewRawSubscriber(tb testing.TB, o *standin.Org) grpc.BidiStreamingClient[pubsubpb.FetchRequest, pubsubpb.FetchResponse] {
	tb.Helper()
	conn, err := grpc.NewClient(o.PubSubEndpoint(), grpc.WithTransportCredentials(credentials.NewClientTLSFromCert(o.CertPool(), "")))
	if err != nil {
		tb.Fatalf("dial stand-in: %v", err)
	}
	tb.Cleanup(func() { _ = conn.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	tb.Cleanup(cancel)
	ctx = metadata.NewOutgoingContext(ctx, metadata.Pairs("accesstoken", o.IssueToken().AccessToken,
		"instanceurl", o.InstanceURL(), "tenantid", o.OrgID()))
	stream, err := pubsubpb.NewPubSubClient(conn).Subscribe(ctx)
	if err != nil {
		tb.Fatalf("subscribe: %v", err)
	}
	return stream
}

// NewRawClient is a generated Pub/Sub client of o and a context whose calls
// carry a fresh valid token, for tests of single RPCs. Both end with tb.
func NewRawClient(tb testing.TB, o *standin.Org) (pubsubpb.PubSubClient, context.Context) {
	tb.Helper()
	conn, err := grpc.NewClient(o.PubSubEndpoint(), grpc.WithTransportCredentials(credentials.NewClientTLSFromCert(o.CertPool(), "")))
	if err != nil {
		tb.Fatalf("dial stand-in: %v", err)
	}
	tb.Cleanup(func() { _ = conn.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	tb.Cleanup(cancel)
	ctx = metadata.NewOutgoingContext(ctx, metadata.Pairs("accesstoken", o.IssueToken().AccessToken,
		"instanceurl", o.InstanceURL(), "tenantid", o.OrgID()))
	return pubsubpb.NewPubSubClient(conn), ctx
}
