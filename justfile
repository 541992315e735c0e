# Cordis gateway: every day-to-day command. `just --list` shows them all.
#
# The integration suite talks to RabbitMQ and Redis through
# CORDIS_TEST_AMQP_URL / CORDIS_TEST_REDIS_URL when they are set
# (.ci/run sets them for the local services); see DESIGN.md section 9.

set shell := ["bash", "-euo", "pipefail", "-c"]

# Go from PATH (e.g. `nix develop`) first; /usr/local/go as a fallback.
export PATH := env("PATH") + ":/usr/local/go/bin"

# Packages with unit tests: no services needed.
unit_pkgs := "./src/... ./fakediscord/..."

# Show the recipes.
default:
    @just --list --unsorted

# Build the binaries (gateway, fakediscord, cordis-tail) into bin/.
build:
    mkdir -p bin
    go build -o bin/ ./src/cmd/... ./fakediscord/cmd/...
    @ls -1 bin/

# The gateway's container image without Nix, tagged TAG: a static binary FROM
# scratch with what nix/image.nix puts in (CA bundle, tzdata, /tmp, uid/gid
# 65532, the same Env). Then: CORDIS_TEST_GATEWAY_IMAGE=TAG just test-integration
image-docker TAG="cordis-gateway:dev":
    #!/usr/bin/env bash
    set -euo pipefail
    # Like the flake's version: the commit, marked -dirty with local changes.
    version="$(git rev-parse --short=7 HEAD 2>/dev/null || echo dev)"
    [ "$version" = dev ] || git diff --quiet HEAD 2>/dev/null || version="$version-dirty"
    ctx="$(mktemp -d)"
    trap 'rm -rf "$ctx"' EXIT
    root="$ctx/root"
    mkdir -p "$root/bin" "$root/etc/ssl/certs" "$root/share" "$root/tmp"
    CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=$version" \
        -o "$root/bin/cordis-gateway" ./src/cmd/cordis-gateway
    # nixpkgs' cacert has the bundle under both names.
    ca="${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}"
    cp -L "$ca" "$root/etc/ssl/certs/ca-bundle.crt"
    cp -L "$ca" "$root/etc/ssl/certs/ca-certificates.crt"
    cp -RL "${ZONEINFO_DIR:-/usr/share/zoneinfo}" "$root/share/zoneinfo"
    chmod 1777 "$root/tmp"
    cat >"$ctx/Dockerfile" <<EOF
    FROM scratch
    COPY root/ /
    ENV SSL_CERT_FILE=/etc/ssl/certs/ca-bundle.crt ZONEINFO=/share/zoneinfo
    USER 65532:65532
    ENTRYPOINT ["/bin/cordis-gateway"]
    LABEL org.opencontainers.image.title="cordis-gateway" \
          org.opencontainers.image.version="$version" \
          org.opencontainers.image.source="https://github.com/cordis-gateway/cordis"
    EOF
    docker build -q -t "{{ TAG }}" "$ctx"
    echo "built {{ TAG }} (cordis-gateway $version)"

# THE test command: gofmt check, go vet, unit tests (-race), integration suite.
test: fmt-check vet test-unit test-integration

# Unit tests with the race detector (no network beyond loopback).
test-unit *ARGS:
    go test -race -count=1 -timeout 5m {{ ARGS }} {{ unit_pkgs }}

# End-to-end suite: real gateway binary + fakediscord + RabbitMQ/Redis.
test-integration *ARGS:
    @echo "integration: AMQP=${CORDIS_TEST_AMQP_URL:-<unset: testcontainers>} Redis=${CORDIS_TEST_REDIS_URL:-<unset: testcontainers>}"
    go test -count=1 -timeout 12m {{ ARGS }} ./integration/...

# Benchmarks (hot path etc.), short benchtime; e.g. `just bench 1s`.
bench BENCHTIME="200ms" *ARGS:
    go test -run '^$' -bench . -benchmem -benchtime {{ BENCHTIME }} {{ ARGS }} ./src/...

# golangci-lint (configuration: .golangci.yml).
lint *ARGS:
    #!/usr/bin/env bash
    set -euo pipefail
    export PATH="$PATH:$(go env GOPATH)/bin"
    if ! command -v golangci-lint >/dev/null; then
        echo "golangci-lint is not installed. Get it with one of:"
        echo "  nix develop"
        echo "  go install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@latest"
        exit 1
    fi
    golangci-lint run {{ ARGS }} ./...

# Format all Go code in place (gofmt).
fmt:
    find . -name '*.go' -not -path './vendor/*' -print0 | xargs -0 -r gofmt -w

# Fail when a Go file is not gofmt-formatted.
fmt-check:
    #!/usr/bin/env bash
    set -euo pipefail
    bad="$(find . -name '*.go' -not -path './vendor/*' -print0 | xargs -0 -r gofmt -l)"
    if [ -n "$bad" ]; then
        echo "gofmt: these files need formatting (run 'just fmt'):"
        echo "$bad"
        exit 1
    fi
    echo "gofmt: ok"

# go vet on the whole module.
vet:
    go vet ./...

# End to end: fakediscord -> cordis-gateway -> RabbitMQ -> cordis-tail, and a command back.
demo:
    bash nix/demo.sh

# Run fakediscord (flags: `just fakediscord -h`).
fakediscord *ARGS:
    go run ./fakediscord/cmd/fakediscord {{ ARGS }}

# Print the events the gateway publishes (flags: `just tail -h`).
tail *ARGS:
    go run ./src/cmd/cordis-tail {{ ARGS }}

# Build the image with Nix (Linux), a docker-archive tarball: then `docker load < result`.
image:
    nix build .#image
    @echo "load it with: docker load < result"

# The end-to-end suite against the Nix-built image (nix build .#image, docker load, CORDIS_TEST_GATEWAY_IMAGE=<name:tag>).
test-image *ARGS:
    #!/usr/bin/env bash
    set -euo pipefail
    archive="$(nix build .#image --no-link --print-out-paths)"
    loaded="$(docker load --input "$archive")"
    echo "$loaded"
    image="$(sed -n 's/^Loaded image: //p' <<<"$loaded" | tail -n 1)"
    if [ -z "$image" ]; then
        echo "test-image: docker load named no image" >&2
        exit 1
    fi
    echo "test-image: CORDIS_TEST_GATEWAY_IMAGE=$image"
    CORDIS_TEST_GATEWAY_IMAGE="$image" just test-integration {{ ARGS }}

# Recompute nix/vendor-hash (`just vendor-hash --check` only verifies it).
vendor-hash *ARGS:
    nix/vendor-hash.sh {{ ARGS }}

# What CI runs (services, then `just test`).
ci:
    bash .ci/run

# RUNS interleaved runs of EVENTS events, json and etf with zlib-stream; it rewrites PERFORMANCE.md
# and the README's ratio lines and ends with `gateway/floor json+zlib: X`, `... etf+zlib: Y`.
# The gateway against the floor (a bare amqp091 publish-with-confirms loop): CPU per event, side by side.
bench-e2e RUNS="3" EVENTS="50000":
    CORDIS_BENCH_E2E=1 CORDIS_BENCH_RUNS={{ RUNS }} CORDIS_BENCH_EVENTS={{ EVENTS }} CORDIS_BENCH_REPORT="$PWD/PERFORMANCE.md" CORDIS_BENCH_README="$PWD/README.md" CORDIS_TEST_AMQP_URL="${CORDIS_TEST_AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/}" CORDIS_TEST_REDIS_URL="${CORDIS_TEST_REDIS_URL:-redis://127.0.0.1:6379/15}" go test -count=1 -run '^TestEndToEndAgainstTheFloor$' -v -timeout 30m ./integration/
    @grep -E '^gateway/floor (json|etf)\+zlib: ' PERFORMANCE.md

# End-to-end throughput as a Go benchmark (fakediscord -> gateway, no -race -> RabbitMQ -> consumer); e.g. `just bench-e2e-throughput -count 3`.
bench-e2e-throughput *ARGS:
    CORDIS_TEST_AMQP_URL="${CORDIS_TEST_AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/}" CORDIS_TEST_REDIS_URL="${CORDIS_TEST_REDIS_URL:-redis://127.0.0.1:6379/15}" go test -run '^$' -bench EndToEnd -benchtime 2000x {{ ARGS }} ./integration/

# The gateway's memory (VmRSS) per shard with SHARDS shards, zlib-stream and zstd-stream.
bench-memory SHARDS="1000":
    CORDIS_BENCH_SHARDS={{ SHARDS }} CORDIS_TEST_AMQP_URL="${CORDIS_TEST_AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/}" CORDIS_TEST_REDIS_URL="${CORDIS_TEST_REDIS_URL:-redis://127.0.0.1:6379/15}" go test -count=1 -run '^(TestMemoryPerShard|TestMemoryFullBuffer)$' -v -timeout 15m ./integration/
