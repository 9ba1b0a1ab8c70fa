"""Encryption of secrets at rest with Fernet keys that can be rotated.

A stored value reads ``<key id>:<Fernet token>``; the key id (first 8 hex digits of the key's
SHA-256) says which key encrypted it, so rotation can find what is left to re-encrypt and
decryption goes straight to the right key. Keys come from ``CIELO_SECRET_KEYS`` (comma
separated, newest first) or from ``<data dir>/secret.keys`` (one per line, newest first),
generated with mode 0600 (in a 0700 directory) on first start, and refused at start when
other users may read it (``keyfiles``). The file is re-read when it changes, so every
process follows a rotation made by ``cielo admin rotate-keys``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from cielo.security import keyfiles

KEY_FILE_NAME = "secret.keys"


class SecretKeyError(RuntimeError):
    """The key material is missing or cannot decrypt a stored value."""


def key_id(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:8]


def _parse_keys(raw: list[str], where: str) -> list[bytes]:
    keys = [k.strip().encode("ascii") for k in raw if k.strip()]
    if not keys:
        raise SecretKeyError(f"No secret key in {where}.")
    for k in keys:
        try:
            Fernet(k)
        except (ValueError, TypeError) as exc:
            raise SecretKeyError(f"A key in {where} is not a valid Fernet key.") from exc
    return keys


def write_key_file(path: Path, keys: list[bytes]) -> None:
    """Replace the key file atomically, readable by its owner only."""
    keyfiles.replace(path, "\n".join(k.decode("ascii") for k in keys) + "\n")


def ensure_key_file(path: Path) -> None:
    """Create the key file with a fresh key unless it exists (safe when processes race)."""
    keyfiles.create_once(path, Fernet.generate_key().decode("ascii") + "\n")


class SecretBox:
    """Encrypts with the newest key, decrypts with whichever key a value names."""

    MEMO_ENTRIES = 200_000

    def __init__(self, *, env_keys: str | None = None, key_file: Path | None = None) -> None:
        if env_keys is None and key_file is None:
            raise SecretKeyError("SecretBox needs keys from configuration or a key file.")
        self._env_keys = env_keys
        self.key_file = key_file
        self._mtime: float | None = None
        self._plain: dict[str, str] = {}
        self._load()

    @property
    def from_file(self) -> bool:
        return self._env_keys is None

    def _load(self) -> None:
        if self._env_keys is not None:
            keys = _parse_keys(self._env_keys.split(","), "CIELO_SECRET_KEYS")
        else:
            assert self.key_file is not None
            try:
                stat = self.key_file.stat()
                text = self.key_file.read_text()
            except FileNotFoundError as exc:
                raise SecretKeyError(f"The key file {self.key_file} does not exist.") from exc
            self._mtime = stat.st_mtime_ns
            keys = _parse_keys(text.splitlines(), str(self.key_file))
        self.keys = keys
        self.primary_id = key_id(keys[0])
        self._by_id = {key_id(k): Fernet(k) for k in keys}
        self._plain = {}  # a key set changed: decrypt afresh (a dropped key opens nothing)

    def refresh(self) -> None:
        """Re-read the key file if it changed since it was last read."""
        if self.key_file is None or self._env_keys is not None:
            return
        try:
            mtime = self.key_file.stat().st_mtime_ns
        except FileNotFoundError:
            return
        if mtime != self._mtime:
            self._load()

    def encrypt(self, plaintext: str) -> str:
        self.refresh()
        token = self._by_id[self.primary_id].encrypt(plaintext.encode("utf-8"))
        return f"{self.primary_id}:{token.decode('ascii')}"

    def decrypt(self, stored: str) -> str:
        # A ciphertext authenticates exactly one plaintext, so remembering the answer needs no
        # invalidation; it spares the HMAC and AES work on every read (10,000 per full list).
        plaintext = self._plain.get(stored)
        if plaintext is None:
            plaintext = self._decrypt(stored)
            if len(self._plain) >= self.MEMO_ENTRIES:
                self._plain.clear()
            self._plain[stored] = plaintext
        return plaintext

    def _decrypt(self, stored: str) -> str:
        kid, _, token = stored.partition(":")
        fernet = self._by_id.get(kid)
        if fernet is None:
            self.refresh()
            fernet = self._by_id.get(kid)
        if fernet is None:
            raise SecretKeyError(f"No key with id {kid} is configured.")
        try:
            return fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except InvalidToken as exc:
            raise SecretKeyError(f"A value encrypted under key {kid} failed authentication.") from exc

    def is_current(self, stored: str) -> bool:
        return stored.startswith(self.primary_id + ":")

    def reencrypt(self, stored: str) -> str:
        return self.encrypt(self.decrypt(stored))


def secret_box_from_settings(settings) -> SecretBox:
    if settings.secret_keys:
        return SecretBox(env_keys=settings.secret_keys)
    path = Path(settings.data_dir) / KEY_FILE_NAME
    ensure_key_file(path)
    keyfiles.check_private(path)
    return SecretBox(key_file=path)
