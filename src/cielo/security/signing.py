"""The server's signing key and the purpose-bound keys derived from it (HKDF-SHA256).

Used for CSRF tokens and for the keyed fingerprints of card numbers, which must stay stable
for the life of the data (unlike the Fernet keys, which rotate). The key comes from
``CIELO_SIGNING_KEY`` (64 hex digits) or ``<data dir>/signing.key``, generated with mode
0600 on first start. All processes of a deployment must share it.
"""

from __future__ import annotations

import hmac
import os
import secrets
from hashlib import sha256
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

KEY_FILE_NAME = "signing.key"


def _load_or_create(path: Path) -> bytes:
    if not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.new")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32) + "\n")
        try:
            os.link(tmp, path)  # atomic create-if-absent when processes race
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
    return bytes.fromhex(path.read_text().strip())


class SigningKeys:
    def __init__(self, master: bytes) -> None:
        if len(master) < 32:
            raise ValueError("The signing key must have at least 32 bytes (64 hex digits).")
        self._master = master
        self._derived: dict[str, bytes] = {}

    def key(self, purpose: str) -> bytes:
        if purpose not in self._derived:
            hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=f"cielo:{purpose}".encode())
            self._derived[purpose] = hkdf.derive(self._master)
        return self._derived[purpose]

    def mac(self, purpose: str, message: bytes) -> str:
        return hmac.new(self.key(purpose), message, sha256).hexdigest()


def signing_keys_from_settings(settings) -> SigningKeys:
    if settings.signing_key:
        return SigningKeys(bytes.fromhex(settings.signing_key))
    return SigningKeys(_load_or_create(Path(settings.data_dir) / KEY_FILE_NAME))
