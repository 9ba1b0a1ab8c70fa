"""Secret encryption at rest and key rotation, without a server."""

from __future__ import annotations

import os
import stat

import pytest
from cryptography.fernet import Fernet

from cielo.security.secrets import (
    SecretBox,
    SecretKeyError,
    ensure_key_file,
    key_id,
    write_key_file,
)


def test_key_file_is_created_once_with_owner_only_permissions(tmp_path):
    path = tmp_path / "secret.keys"
    ensure_key_file(path)
    first = path.read_text()
    ensure_key_file(path)
    assert path.read_text() == first
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_values_name_their_key_and_follow_a_rotated_file(tmp_path):
    path = tmp_path / "secret.keys"
    ensure_key_file(path)
    box = SecretBox(key_file=path)
    old = box.encrypt("hello")
    assert old.startswith(box.primary_id + ":") and "hello" not in old
    new_key = Fernet.generate_key()
    write_key_file(path, [new_key, *box.keys])
    os.utime(path, ns=(1, 1))  # make sure the change is visible whatever the clock resolution
    box.refresh()
    assert box.primary_id == key_id(new_key)
    assert box.decrypt(old) == "hello"
    assert box.reencrypt(old).startswith(key_id(new_key) + ":")
    write_key_file(path, [new_key])
    os.utime(path, ns=(2, 2))
    box.refresh()
    with pytest.raises(SecretKeyError):
        box.decrypt(old)  # the dropped key opens nothing, even a value read before


def test_environment_keys_and_tampering(tmp_path):
    k1, k2 = Fernet.generate_key(), Fernet.generate_key()
    box = SecretBox(env_keys=f"{k1.decode()},{k2.decode()}")
    value = box.encrypt("s")
    assert value.startswith(key_id(k1) + ":")
    kid, token = value.split(":", 1)
    tampered = kid + ":" + token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    with pytest.raises(SecretKeyError):
        box.decrypt(tampered)
    with pytest.raises(SecretKeyError):
        SecretBox(env_keys="not-a-key")


def test_the_data_directory_is_created_for_its_owner_only(tmp_path):
    from cielo.config import Settings
    from cielo.security.secrets import secret_box_from_settings
    from cielo.security.signing import signing_keys_from_settings

    data = tmp_path / "fresh" / "data"
    secret_box_from_settings(Settings(data_dir=data))
    signing_keys_from_settings(Settings(data_dir=data))
    assert stat.S_IMODE(os.stat(data).st_mode) == 0o700
