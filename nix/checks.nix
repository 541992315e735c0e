# `nix flake check`: formatting, vet, unit tests and the vendor hash.
#
# The Go checks reuse the package's source and its vendored modules
# (cordis-gateway.goModules), so they run offline in the sandbox. Unit tests
# need no services (DESIGN.md section 9: loopback only); the integration suite
# needs RabbitMQ and Redis and runs via `just test`, not here. -race needs cgo,
# so the sandboxed tests run without it (`just test-unit` uses -race).
{
  lib,
  stdenv,
  go,
  cordis-gateway,
  fakediscord,
}:

let
  goCheck =
    name: script:
    stdenv.mkDerivation {
      name = "cordis-check-${name}";
      inherit (cordis-gateway) src;
      nativeBuildInputs = [ go ];
      env = {
        CGO_ENABLED = "0";
        GOFLAGS = "-mod=vendor";
        GOTOOLCHAIN = "local";
        GOPROXY = "off";
        GOSUMDB = "off";
      };
      dontConfigure = true;
      buildPhase = ''
        runHook preBuild
        export HOME="$TMPDIR" GOCACHE="$TMPDIR/go-cache" GOPATH="$TMPDIR/go"
        cp -r --no-preserve=mode ${cordis-gateway.goModules} vendor
        ${script}
        runHook postBuild
      '';
      installPhase = "touch $out";
    };
in
{
  # The packages build (the vendor hash is checked on the way).
  inherit cordis-gateway fakediscord;

  # The fixed-output vendor derivation: fails with "hash mismatch" when
  # nix/vendor-hash is stale (fix: `just vendor-hash`).
  vendor-hash = cordis-gateway.goModules;

  gofmt = goCheck "gofmt" ''
    unformatted="$(find . -name '*.go' -not -path './vendor/*' -print0 | xargs -0 -r gofmt -l)"
    if [ -n "$unformatted" ]; then
      echo "gofmt: these files need formatting (run 'just fmt'):"
      echo "$unformatted"
      exit 1
    fi
  '';

  go-vet = goCheck "go-vet" ''
    go vet ./...
  '';

  unit-tests = goCheck "unit-tests" ''
    go test -count=1 ./src/... ./fakediscord/...
  '';
}
