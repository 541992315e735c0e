{
  description = "Cordis gateway: Discord gateway shards -> RabbitMQ";

  # nixos-unstable: needs a revision with go_1_26 / buildGo126Module.
  # Refresh the pin with `nix flake update nixpkgs`.
  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs =
    { self, nixpkgs }:
    let
      inherit (nixpkgs) lib;

      # What the pinned nixpkgs supports: 26.11 dropped x86_64-darwin.
      systems = [
        "x86_64-linux"
        "aarch64-linux"
        "aarch64-darwin"
      ];
      forAllSystems = f: lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});

      # A git revision when built from a commit, "<rev>-dirty" from a dirty
      # checkout; also the image tag.
      version = self.shortRev or self.dirtyShortRev or "dev";

      packagesFor =
        pkgs:
        let
          # Its build runs the unit tests of ./src/...
          cordis-gateway = pkgs.callPackage ./nix/package.nix { inherit version; };
          # Its build runs the unit tests of ./fakediscord/...
          fakediscord = pkgs.callPackage ./nix/package.nix {
            inherit version;
            pname = "fakediscord";
            subPackage = "fakediscord/cmd/fakediscord";
            testPackages = [ "./fakediscord/..." ];
            hasVersionVar = false;
            description = "A fake Discord (REST + gateway) for testing and demoing Cordis";
          };
        in
        {
          inherit cordis-gateway fakediscord;
          default = cordis-gateway;
        }
        // lib.optionalAttrs pkgs.stdenv.hostPlatform.isLinux {
          image = pkgs.callPackage ./nix/image.nix { inherit cordis-gateway; };
        };
    in
    {
      packages = forAllSystems packagesFor;

      devShells = forAllSystems (pkgs: {
        default = pkgs.callPackage ./nix/devshell.nix { go = pkgs.go_1_26; };
      });

      # A plain import, not callPackage: `checks.<system>` must hold only
      # derivations, and callPackage would add override/overrideDerivation.
      checks = forAllSystems (
        pkgs:
        import ./nix/checks.nix {
          inherit (pkgs) lib stdenv;
          go = pkgs.go_1_26;
          packages = self.packages.${pkgs.stdenv.hostPlatform.system};
        }
      );

      formatter = forAllSystems (pkgs: pkgs.nixfmt);
    };
}
