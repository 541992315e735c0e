#!/usr/bin/env python3
"""Print the SRI sha256 of the NAR serialisation of a path.

Same result as `nix hash path PATH` (= what a fixed-output derivation with
outputHashMode = "recursive" is checked against), for machines without Nix.
Used by nix/vendor-hash.sh only when `nix` is not installed.

NAR format (Nix's Archive, see Eelco Dolstra's thesis, fig. 5.2): every
string is written as a little-endian u64 length, the bytes, and zero padding
to a multiple of 8. Directory entries are sorted by name (bytewise); only the
executable bit of a regular file is recorded; symlinks store their target.
"""

import base64
import hashlib
import os
import stat
import sys


def _str(h, b):
    if isinstance(b, str):
        b = b.encode()
    h.update(len(b).to_bytes(8, "little"))
    h.update(b)
    pad = (8 - len(b) % 8) % 8
    h.update(b"\0" * pad)


def _dump(h, path):
    st = os.lstat(path)
    _str(h, "(")
    if stat.S_ISLNK(st.st_mode):
        _str(h, "type")
        _str(h, "symlink")
        _str(h, "target")
        _str(h, os.fsencode(os.readlink(path)))
    elif stat.S_ISREG(st.st_mode):
        _str(h, "type")
        _str(h, "regular")
        if st.st_mode & stat.S_IXUSR:
            _str(h, "executable")
            _str(h, "")
        _str(h, "contents")
        h.update(st.st_size.to_bytes(8, "little"))
        with open(path, "rb") as f:
            while True:
                chunk = f.read(1 << 20)
                if not chunk:
                    break
                h.update(chunk)
        h.update(b"\0" * ((8 - st.st_size % 8) % 8))
    elif stat.S_ISDIR(st.st_mode):
        _str(h, "type")
        _str(h, "directory")
        for name in sorted(os.listdir(os.fsencode(path))):
            _str(h, "entry")
            _str(h, "(")
            _str(h, "name")
            _str(h, name)
            _str(h, "node")
            _dump(h, os.path.join(os.fsencode(path), name))
            _str(h, ")")
    else:
        sys.exit(f"nar-hash: unsupported file type: {path!r}")
    _str(h, ")")


def nar_sha256(path):
    h = hashlib.sha256()
    _str(h, "nix-archive-1")
    _dump(h, path)
    return "sha256-" + base64.b64encode(h.digest()).decode()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: nar-hash.py PATH")
    print(nar_sha256(sys.argv[1]))
