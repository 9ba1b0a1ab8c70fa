"""The server's signing key and the purpose-bound keys derived from it (HKDF-SHA256).

Used for CSRF tokens and for the keyed fingerprints of card numbers, which must stay stable
for the life of the data (unlike the Fernet keys, which rotate). The key comes from
``CIELO_SIGNING_KEY`` (64 hex digits) or ``<data dir>/signing.key``, generated with mode
0600 (in a 0700 directory) on first start and refused at start when other users may read it
(``keyfiles``). All processes of a deployment must share it.
"""

from __future__ import annotations

import hmac
import secrets
from hashlib import sha256
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from cielo.security import keyfiles

KEY_FILE_NAME = "signing.key"


def _load_or_create(path: Path) -> bytes:
    keyfiles.create_once(path, secrets.token_hex(32) + "\n")
    keyfiles.check_private(path)
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
