# herokuevents — two commands on a fresh machine:
#   make run    the embedded mode (herokuevents serve), no cloud account
#   make test   every test, installing the pinned tools it needs first
GO       ?= go
ADDR     ?= 127.0.0.1:5454
DATA_DIR ?= .herokuevents
APP      ?= my-app

.PHONY: run test tools build functions lint fmt bench aws-local

# builds bin/herokuevents (what `make build` builds; a no-op when up to date),
# then serves: the ready line and the config vars come once it listens
run:
	@echo "Building herokuevents into bin/herokuevents… (a few minutes the first time)" >&2
	@$(GO) build -trimpath -o bin/herokuevents ./cmd/herokuevents
	@exec bin/herokuevents serve --addr $(ADDR) --data-dir $(DATA_DIR) --app $(APP) $(ARGS)

# the AWS mode on this machine (moto + every function under aws-lambda-rie), no AWS account
aws-local: tools
	@echo "Building aws-local into bin/awslocal… (a few minutes the first time)" >&2
	@$(GO) build -trimpath -o bin/awslocal ./scripts/awslocal
	@exec bin/awslocal --app $(APP) $(ARGS)

# the pinned moto, cfn-lint, aws-sam-cli and aws-lambda-rie (silent when installed)
tools:
	@scripts/setup-tools

# then every Fuzz* target briefly (scripts/fuzz; plain go test replays seeds only)
test: tools lint
	$(GO) test -race -shuffle=on -timeout 14m ./...
	scripts/fuzz

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
