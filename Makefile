# herokuevents — two commands on a fresh machine:
#   make run    the embedded mode (herokuevents serve), no cloud account
#   make test   every test, installing the pinned tools it needs first
GO       ?= go
ADDR     ?= 127.0.0.1:5454
DATA_DIR ?= .herokuevents
APP      ?= my-app

.PHONY: run test tools build functions lint fmt bench aws-local

run:
	@$(GO) run ./cmd/herokuevents serve --addr $(ADDR) --data-dir $(DATA_DIR) --app $(APP) $(ARGS)

# the AWS mode on this machine (moto + every function under aws-lambda-rie), no AWS account
aws-local:
	@$(GO) run ./scripts/awslocal --app $(APP) $(ARGS)

tools:
	scripts/setup-tools

test: tools lint
	$(GO) test -race -shuffle=on -timeout 14m ./...

build:
	$(GO) build -trimpath -o bin/herokuevents ./cmd/herokuevents

functions:
	scripts/build-functions

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) tool staticcheck ./...
	$(GO) mod tidy -diff

fmt:
	gofmt -w $$(git ls-files '*.go')

bench:
	$(GO) run ./scripts/bench/throughput
