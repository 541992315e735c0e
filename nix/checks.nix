# `nix flake check`: every package builds (the gateway's and fakediscord's
# builds run their unit tests), the image builds (Linux), the vendor hash
# matches, gofmt and go vet are clean.
#
# The integration suite needs RabbitMQ and Redis (and, for an image, Docker),
# so it runs outside the sandbox: `just test`, `just test-image`.
{
  lib,
  stdenv,
  go,
  packages,
}:

let
  inherit (packages) cordis-gateway;

  # A check over the whole module's source, with the package's vendored
  # modules (cordis-gateway.goModules) so it runs offline in the sandbox.
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
  # Build + unit tests (checkPhase), and the image where there is one.
  inherit (packages) cordis-gateway fakediscord;

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
}
// lib.optionalAttrs (packages ? image) { inherit (packages) image; }
