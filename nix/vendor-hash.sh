#!/usr/bin/env bash
# Computes buildGoModule's vendorHash for this repository without a Nix build
# and writes it to nix/vendor-hash (read by nix/package.nix).
#
#   nix/vendor-hash.sh           recompute and write nix/vendor-hash
#   nix/vendor-hash.sh --check   exit 1 if nix/vendor-hash is stale
#   --head                       use the committed tree (git archive HEAD)
#                                instead of the working tree
#
# How it matches nixpkgs (pkgs/build-support/go/module.nix): the fixed-output
# derivation `goModules` runs `go mod vendor` in the source tree and copies the
# resulting vendor/ directory (packages + modules.txt) to $out, hashed with
# outputHashMode = "recursive", i.e. the sha256 of the NAR serialisation of
# that directory. We run the same `go mod vendor` into a temporary directory
# and hash it the same way: `nix hash path` when Nix is installed, otherwise
# nix/nar-hash.py (a tiny NAR serialiser, cross-checked against `nix hash
# path`). tailscale's update-flake.sh does the same with its own nardump.
#
# The vendor tree depends on go.mod AND on which packages the module's code
# (including tests) imports, so it can change when code starts importing a
# package of an already-required module: run `just vendor-hash` then.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
hash_file="$root/nix/vendor-hash"
mode=write
from=worktree
for arg in "$@"; do
  case "$arg" in
    --check) mode=check ;;
    --head) from=head ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "usage: $0 [--check] [--head]" >&2; exit 2 ;;
  esac
done

command -v go >/dev/null || { echo "vendor-hash: go not found on PATH" >&2; exit 2; }

tmp="$(mktemp -d)"
trap 'chmod -R u+w "$tmp" 2>/dev/null || true; rm -rf "$tmp"' EXIT

# The same environment goModules runs in: modules on, no workspace, the local
# toolchain, no inherited GOFLAGS (e.g. -mod=vendor would break `go mod vendor`).
src="$root"
if [ "$from" = head ]; then
  src="$tmp/src"
  mkdir -p "$src"
  git -C "$root" archive --format=tar HEAD | tar -x -C "$src"
fi
(
  cd "$src"
  GOFLAGS= GOWORK=off GO111MODULE=on GOTOOLCHAIN=local \
    go mod vendor -o "$tmp/vendor"
)
if [ ! -f "$tmp/vendor/modules.txt" ]; then
  echo "vendor-hash: go mod vendor produced no vendor/modules.txt (no dependencies?)" >&2
  exit 2
fi

if command -v nix >/dev/null 2>&1; then
  tool="nix hash path"
  hash="$(nix --extra-experimental-features nix-command hash path --type sha256 --sri "$tmp/vendor")"
elif command -v python3 >/dev/null 2>&1; then
  tool="nix/nar-hash.py"
  hash="$(python3 "$root/nix/nar-hash.py" "$tmp/vendor")"
else
  echo "vendor-hash: need either nix (nix hash path) or python3 to hash the vendor tree" >&2
  exit 2
fi

current="$(cat "$hash_file" 2>/dev/null || true)"
if [ "$mode" = check ]; then
  if [ "$hash" != "$current" ]; then
    echo "vendor-hash: nix/vendor-hash is stale" >&2
    echo "  committed: ${current:-<missing>}" >&2
    echo "  computed:  $hash ($(go env GOVERSION), $tool)" >&2
    echo "  fix: run 'just vendor-hash' (or nix/vendor-hash.sh) and commit nix/vendor-hash" >&2
    exit 1
  fi
  echo "vendor-hash: up to date ($hash)"
else
  printf '%s\n' "$hash" >"$hash_file"
  if [ "$hash" = "$current" ]; then
    echo "vendor-hash: unchanged ($hash)"
  else
    echo "vendor-hash: wrote $hash to nix/vendor-hash ($(go env GOVERSION), $tool)"
  fi
fi
