{
  description = "Cordis gateway: Discord gateway shards -> RabbitMQ";

  # nixos-unstable: needs a revision with go_1_26 / buildGo126Module.
  # Refresh the pin with `nix flake lock --update-input nixpkgs`.
  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs =
    { self, nixpkgs }:
    let
      inherit (nixpkgs) lib;

      systems = [
        "x86_64-linux"
        "aarch64-linux"
        "x86_64-darwin"
        "aarch64-darwin"
      ];
      forAllSystems = f: lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});

      # A git revision when built from a commit, "<rev>-dirty" from a dirty
      # checkout; also the image tag.
      version = self.shortRev or self.dirtyShortRev or "dev";

      packagesFor =
        pkgs:
        let
          cordis-gateway = pkgs.callPackage ./nix/package.nix { inherit version; };
          fakediscord = pkgs.callPackage ./nix/package.nix {
            inherit version;
            pname = "fakediscord";
            subPackage = "fakediscord/cmd/fakediscord";
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

      checks = forAllSystems (
        pkgs:
        let
          p = self.packages.${pkgs.stdenv.hostPlatform.system};
        in
        pkgs.callPackage ./nix/checks.nix {
          go = pkgs.go_1_26;
          inherit (p) cordis-gateway fakediscord;
        }
      );

      formatter = forAllSystems (pkgs: pkgs.nixfmt);
    };
}
