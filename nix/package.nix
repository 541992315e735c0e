# One command of this repository's Go module, built with buildGo126Module.
#
#   callPackage ./package.nix { version = "..."; }                 -> cordis-gateway
#   callPackage ./package.nix { pname = "fakediscord";
#                               subPackage = "fakediscord/cmd/fakediscord"; ... }
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
    "-X main.version=${version}"
  ];

  # Tests run in the flake's checks (checks.<system>.unit-tests), not here, so
  # that building the package stays fast and needs no test fixtures.
  doCheck = false;

  meta = {
    inherit description;
    homepage = "https://github.com/cordis-gateway/cordis";
    mainProgram = lib.last (lib.splitString "/" subPackage);
    platforms = lib.platforms.unix;
  };
}
