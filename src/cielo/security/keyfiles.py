"""The files that hold key material beside the database (``secret.keys``, ``signing.key``).

Each is created readable and writable by its owner only (0600), atomically (when processes
race, the first one's file wins), in a directory only its owner may enter (0700). At start the
service refuses a key file, or its directory, that other users may read or change, the way
ssh refuses such a private key: silently narrowing the mode would hide that the keys may
already have been read, which the operator must judge (and then rotate them).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path


class KeyFileError(RuntimeError):
    """A key file, or its directory, is open to other users: the service does not start."""


def _private_directory(path: Path) -> None:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)


def replace(path: Path, text: str) -> None:
    """Write ``path`` anew atomically, mode 0600, in a 0700 directory."""
    _private_directory(path.parent)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.chmod(tmp, 0o600)  # an existing leftover keeps its mode through O_CREAT
    os.replace(tmp, path)


def create_once(path: Path, text: str) -> None:
    """Create ``path`` holding ``text`` unless it exists (safe when processes race)."""
    if path.exists():
        return
    tmp = path.with_name(f".{path.name}.{os.getpid()}.new")
    replace(tmp, text)
    try:
        os.link(tmp, path)  # atomic: fails if another process created the file first
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)


def check_private(path: Path) -> None:
    """Refuse a key file (or its directory) that a group or other users may use."""
    for target, wanted, kind in ((path.parent, 0o700, "directory"), (path, 0o600, "file")):
        mode = stat.S_IMODE(target.stat().st_mode)
        if mode & 0o077:
            raise KeyFileError(
                f"The key {kind} {target} is open to other users (mode {mode:04o}); the service does not use keys "
                f"others may have read. Run `chmod {wanted:o} {target}` and start again, and if someone else may "
                "have read the keys, replace them (docs/SECURITY.md, Secrets at rest)."
            )
