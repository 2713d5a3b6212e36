#!/usr/bin/env bash
# Regenerates the Go code of the Pub/Sub API proto. Not run by tests.
# Needs protoc (apt-get install protobuf-compiler) and the two plugins:
#   GOBIN=$TMP go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
#   GOBIN=$TMP go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.2
# with $TMP on PATH (or PLUGIN_DIR=$TMP).
set -euo pipefail
cd "$(dirname "$0")"
if [[ -n "${PLUGIN_DIR:-}" ]]; then PATH="$PLUGIN_DIR:$PATH"; fi
protoc --proto_path=. \
  --go_out=. --go_opt=paths=source_relative \
  --go-grpc_out=. --go-grpc_opt=paths=source_relative \
  pubsub_api.proto
