"""Key files (secret.keys, signing.key): created 0600 in a 0700 directory; a key file or
directory open to other users is refused at start, with what to do, never silently used."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest

from cielo.config import Settings
from cielo.security.keyfiles import KeyFileError
from cielo.security.secrets import secret_box_from_settings
from cielo.security.signing import signing_keys_from_settings
from tests.support.live import free_port


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def _load_both(data) -> None:
    secret_box_from_settings(Settings(data_dir=data))
    signing_keys_from_settings(Settings(data_dir=data))


def test_key_files_are_created_for_their_owner_only(tmp_path):
    data = tmp_path / "data"
    old = os.umask(0)  # whatever the umask, the files are the owner's only
    try:
        _load_both(data)
    finally:
        os.umask(old)
    assert _mode(data) == 0o700
    assert _mode(data / "secret.keys") == 0o600 and _mode(data / "signing.key") == 0o600


@pytest.mark.parametrize("name", ["secret.keys", "signing.key"])
@pytest.mark.parametrize("mode", [0o644, 0o640, 0o602])
def test_a_key_file_others_may_use_is_refused(tmp_path, name, mode):
    data = tmp_path / "data"
    _load_both(data)
    os.chmod(data / name, mode)
    with pytest.raises(KeyFileError, match=rf"{name} is open to other users \(mode 0{mode:o}\).*chmod 600"):
        _load_both(data)
    assert _mode(data / name) == mode  # not narrowed behind the operator's back


def test_a_key_directory_others_may_enter_is_refused(tmp_path):
    data = tmp_path / "data"
    _load_both(data)
    os.chmod(data, 0o755)
    with pytest.raises(KeyFileError, match=r"directory .* \(mode 0755\).*chmod 700"):
        _load_both(data)


def test_keys_from_the_environment_need_no_file(tmp_path):
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    os.chmod(data, 0o755)
    from cryptography.fernet import Fernet

    secret_box_from_settings(Settings(data_dir=data, secret_keys=Fernet.generate_key().decode()))
    signing_keys_from_settings(Settings(data_dir=data, signing_key="ab" * 32))
    assert list(data.iterdir()) == []


@pytest.mark.slow
def test_serve_refuses_to_start_on_a_world_readable_key_file(tmp_path):
    data = tmp_path / "data"
    _load_both(data)
    os.chmod(data / "signing.key", 0o644)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CIELO_")}
    env["CIELO_DATA_DIR"] = str(data)
    result = subprocess.run([sys.executable, "-m", "cielo", "serve", "--port", str(free_port())], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert f"{data / 'signing.key'} is open to other users (mode 0644)" in result.stderr
    assert "Traceback" not in result.stderr
