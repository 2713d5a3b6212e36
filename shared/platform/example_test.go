package platform_test

import (
	"context"
	"fmt"

	"github.com/herokuevents/herokuevents/infra/embedded/filesealer"
	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/config/memstore"
	"github.com/herokuevents/herokuevents/shared/event"
	"github.com/herokuevents/herokuevents/shared/httpjson"
	"github.com/herokuevents/herokuevents/shared/platform"
	"github.com/herokuevents/herokuevents/shared/sink"
)

// A platform is a value: its name, how a publication of it is checked, its
// publisher and its CLI command. Listed once (shared/platform/catalog), it is
// what the api validates with and what deliver publishes with.
func ExampleRegistry() {
	printer := platform.Platform{
		Name: "printer",
		Publication: &platform.Target{
			Validate: func(_ context.Context, _ platform.Deps, _ string, body []byte) (config.Publication, map[string]any, error) {
				var req struct {
					platform.PublicationFields
					Prefix string `json:"prefix"`
				}
				if err := httpjson.Decode(body, &req); err != nil {
					return config.Publication{}, nil, err
				}
				if req.Prefix == "" {
					return config.Publication{}, nil, config.Invalid("prefix is required.")
				}
				return config.Publication{Params: config.Params{Object: req.Prefix}}, nil, nil
			},
			Publisher: func(context.Context, platform.Deps) (platform.Publisher, error) {
				return platform.PublisherFunc(func(_ context.Context, _ string, pub config.Publication, ev event.Event) error {
					fmt.Printf("%s %s\n", pub.Params.Object, ev.Data)
					return nil
				}), nil
			},
			Command: platform.Command{
				Short: "Print events",
				Flags: []platform.Flag{{Name: "prefix", Usage: "printed before each event (required)", Required: true}},
			},
		},
	}
	sealer, _ := filesealer.New(make([]byte, filesealer.KeySize))
	reg, err := platform.NewRegistry(platform.Deps{Store: memstore.New(), Sealer: sealer, Egress: sink.NewEgress(nil)}, printer)
	if err != nil {
		panic(err)
	}
	ctx := context.Background()

	_, _, err = reg.Publication(ctx, "tenant-1", "printer", []byte(`{"name":"p"}`))
	fmt.Println(err)
	_, err = reg.Subscription(ctx, "tenant-1", "printer", []byte(`{"name":"s"}`))
	fmt.Println(err)

	pub, _, _ := reg.Publication(ctx, "tenant-1", "printer", []byte(`{"name":"p","prefix":">"}`))
	publishers, _ := reg.Publishers(ctx)
	_ = publishers["printer"].Publish(ctx, "tenant-1", pub, event.Event{Data: []byte(`{"hello":"world"}`)})
	// Output:
	// prefix is required.
	// platform printer is not supported yet for subscriptions.
	// > {"hello":"world"}
}
