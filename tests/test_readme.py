"""The README is executable documentation: its "Try it" shell blocks run in order, as written,
in one shell session against a server on a port of its own (SQLite), and a command that fails
fails the test. `curl` answers of 400 and above count as failures (a person reads them; the
test needs the exit status). The two browser steps (signing the holder in, adding a card) are
done here as a person would: open the printed link, fill the forms, and paste the command the
sandbox callback page shows."""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
from datetime import date
from pathlib import Path
from urllib.parse import urljoin

import httpx
import pytest

from tests.support.live import LiveServer

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
# Variables the callback page's commands set (besides those the README's blocks assign).
PAGE_VARIABLES = {"CLIENT_ID", "CODE", "TOKENS", "ACCESS_TOKEN", "REFRESH_TOKEN", "CARD_ID"}


def try_it_blocks(readme: str) -> list[str]:
    """The ```sh blocks of the "## Try it" section, in order."""
    section = readme.split("\n## Try it\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^```sh\n(.*?)^```$", section, re.S | re.M)


class Shell:
    """One shell session made of separate `bash -euo pipefail` runs: each block starts from the
    variables the blocks before it left, as in a terminal where they were pasted one by one."""

    def __init__(self, cwd: Path, env: dict[str, str], names: set[str]) -> None:
        self.cwd, self.env, self.names = cwd, env, sorted(names)
        self.state = cwd / ".readme-state"
        self.state.write_text("")

    def run(self, block: str) -> str:
        keep = " ".join(self.names)
        script = "\n".join([
            'curl() { command curl --fail-with-body "$@"; }',  # an HTTP error is a failed command
            f"source {self.state}",
            block,
            f'for name in {keep}; do declare -p "$name" 2>/dev/null || true; done > {self.state}.new',
            f"mv {self.state}.new {self.state}",
        ])
        done = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=self.cwd, env=self.env,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, f"this README block failed:\n{block}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
        return done.stdout

    def value(self, name: str) -> str:
        return self.run(f'printf %s "${name}"')


class Browser:
    """A person's browser, as far as the service's pages go: links, forms, cookies."""

    def __init__(self) -> None:
        self.client = httpx.Client(follow_redirects=True, timeout=60)

    def submit(self, page: httpx.Response, **fields: str) -> httpx.Response:
        form = re.search(r'<form method="post" action="([^"]+)"(.*?)</form>', page.text, re.S)
        assert form, page.text
        hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form.group(2)))
        return self.client.post(urljoin(str(page.url), html.unescape(form.group(1))), data={**hidden, **fields})

    def next_command(self, page: httpx.Response) -> str:
        assert page.status_code == 200 and "/sandbox/callback" in str(page.url), page.text
        found = re.search(r'data-field="next_command">(.*?)</pre>', page.text, re.S)
        assert found, page.text
        return html.unescape(found.group(1))


def test_the_readme_runs_on_any_port(tmp_path):
    readme = (ROOT / "README.md").read_text()
    blocks = try_it_blocks(readme)
    assert len(blocks) >= 8
    names = PAGE_VARIABLES | set(re.findall(r"^\s*([A-Z_][A-Z0-9_]*)=", "\n".join(blocks), re.M))

    # the repository's layout as the README expects it, in a directory of its own: .venv/bin/cielo
    # (this checkout's code) and the data directory .cielo/ of `make run`
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    cli = tmp_path / ".venv" / "bin" / "cielo"
    cli.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m cielo "$@"\n')
    cli.chmod(0o755)
    (tmp_path / ".cielo").mkdir(mode=0o700)
    server = LiveServer(tmp_path / ".cielo", None).start()
    try:
        assert server.port != 8000
        env = {k: v for k, v in os.environ.items() if not k.startswith("CIELO_")}
        env.update(PORT=str(server.port), CIELO_DATA_DIR=str(tmp_path / ".cielo"), PYTHONPATH=str(ROOT / "src"))
        shell, browser = Shell(tmp_path, env, names), Browser()
        for block in blocks:
            said = shell.run(block)
            if "['subscribable']" in block:  # the seed's pair is one a subscription accepts
                assert '"description":"ACCEPTED"' in said, said
            if '"externalId' in block:  # the purchase earns the Welcome promotion
                assert '"containsPromotions":true' in said and '"campaignType":"W"' in said, said
            if re.search(r"^LOGIN_URL=", block, re.M):
                # open the printed link, sign in with the printed password, Allow
                login = browser.client.get(shell.value("LOGIN_URL"))
                assert "/oauth/login" in str(login.url), login.text
                consent = browser.submit(login, password=shell.value("HOLDER_PASSWORD"))
                assert "Allow" in consent.text, consent.text
                shell.run(browser.next_command(browser.submit(consent, decision="allow")))
            if re.search(r"^CARDS_URL=", block, re.M):
                # open it in the same browser and add the test card the README gives
                form = browser.client.get(shell.value("CARDS_URL"))
                assert "/oauth/cards" in str(form.url), form.text
                added = browser.submit(form, card_number="4111 1111 1111 1111", expiry_month="12",
                                       expiry_year=str(date.today().year + 2), cvv="123", holder_name="TITULAR",
                                       type="CREDIT")
                shell.run(browser.next_command(added))
        assert shell.value("ACCESS_TOKEN") and shell.value("CARD_ID").isdigit()
        assert not (ROOT / "sandbox.json").exists() and (tmp_path / ".cielo" / "sandbox.json").exists()
    finally:
        server.stop()
