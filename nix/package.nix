# One command of this repository's Go module, built with buildGo126Module,
# and the unit tests of its part of the tree, run in the build.
#
#   callPackage ./package.nix { version = "..."; }                 -> cordis-gateway
#   callPackage ./package.nix { pname = "fakediscord";
#                               subPackage = "fakediscord/cmd/fakediscord";
#                               testPackages = [ "./fakediscord/..." ]; ... }
#
# vendorHash lives in ./vendor-hash (one line, SRI). Recompute it with
# `just vendor-hash` (nix/vendor-hash.sh) whenever go.mod changes or the code
# starts importing another package of a required module.
{
  lib,
  buildGo126Module,
  version ? "dev",
  pname ? "cordis-gateway",
  subPackage ? "src/cmd/cordis-gateway",
  # Packages whose unit tests run in the build (checkPhase). They need no
  # services: the sandbox has loopback only (DESIGN.md section 9).
  testPackages ? [ "./src/..." ],
  # Whether the command has a `var version` for -X main.version.
  hasVersionVar ? true,
  description ? "Cordis gateway: connects a Discord bot's gateway shards to RabbitMQ",
}:

buildGo126Module {
  inherit pname version;

  # Only what the Go build reads. Every directory holding Go code must be here:
  # `go mod vendor` (and therefore vendorHash) depends on the imports of all of
  # the module's packages, tests included.
  src = lib.fileset.toSource {
    root = ./..;
    fileset = lib.fileset.unions [
      ../go.mod
      ../go.sum
      (lib.fileset.maybeMissing ../src)
      (lib.fileset.maybeMissing ../fakediscord)
      (lib.fileset.maybeMissing ../integration)
    ];
  };

  vendorHash = lib.fileContents ./vendor-hash;

  subPackages = [ subPackage ];

  # A static binary: runs in a scratch-like image and on any Linux.
  env.CGO_ENABLED = 0;

  ldflags = [
    "-s"
    "-w"
  ]
  ++ lib.optional hasVersionVar "-X main.version=${version}";

  # A broken unit test fails the build, and so `nix flake check`. The tests
  # run without -race (it needs cgo; `just test-unit` uses it) and without
  # vet (checks.<system>.go-vet runs it on the whole module). Tests that want
  # a real RabbitMQ or Redis skip: there is none in the sandbox, and CI is
  # unset there.
  doCheck = testPackages != [ ];
  checkPhase = ''
    runHook preCheck
    # -trimpath is for the installed binary; tests read testdata by path.
    export GOFLAGS="''${GOFLAGS//-trimpath/}"
    go test -count=1 -vet=off -p "$NIX_BUILD_CORES" ${lib.escapeShellArgs testPackages}
    runHook postCheck
  '';

  meta = {
    inherit description;
    homepage = "https://github.com/cordis-gateway/cordis";
    mainProgram = lib.last (lib.splitString "/" subPackage);
    platforms = lib.platforms.unix;
  };
}
