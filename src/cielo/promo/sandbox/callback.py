"""The sandbox's callback page (API.md §3.1, §5): where the seeded client and the panel's "try
it" link send the browser back, showing what arrived and the exact shell commands to run next.

The commands are for the shell where the README's (or the panel's) variables are set:
``CLIENT_SECRET`` (never shown here: only its digest is stored) and, when the sign-in used
PKCE, ``CODE_VERIFIER`` (shown beside the link that made the challenge)."""

from __future__ import annotations

import shlex

from cielo.promo.environments import Environment
from cielo.promo.oauth.service import CodeFacts

CALLBACK_PATH = "/sandbox/callback"
# Extracts one field of the JSON answer the command before printed.
_FIELD = "python3 -c \"import json, sys; print(json.load(sys.stdin)['{field}'])\""


def callback_url(base_url: str) -> str:
    """The callback page's address on the service reached at ``base_url``."""
    return base_url.rstrip("/") + CALLBACK_PATH


def exchange_commands(base_url: str, code: str, facts: CodeFacts) -> str:
    """Exchange ``code`` at /access-token and keep the pair in ACCESS_TOKEN and REFRESH_TOKEN."""
    api = base_url.rstrip("/") + Environment.SANDBOX.base_path
    body = '{\\"grant_type\\": \\"authorization_code\\", \\"code\\": \\"$CODE\\"'
    body += ', \\"code_verifier\\": \\"$CODE_VERIFIER\\"}' if facts.pkce else "}"
    return "\n".join([
        f"CLIENT_ID={shlex.quote(facts.client_id)}",
        f"CODE={shlex.quote(code)}",
        f"TOKENS=$(curl -s -X POST {shlex.quote(api + '/access-token')} -H \"Client-Id: $CLIENT_ID\" "
        f"-u \"$CLIENT_ID:$CLIENT_SECRET\" \\\n       -H 'Content-Type: application/json' -d \"{body}\")",
        'echo "$TOKENS"',
        f"ACCESS_TOKEN=$(echo \"$TOKENS\" | {_FIELD.format(field='access_token')})",
        f"REFRESH_TOKEN=$(echo \"$TOKENS\" | {_FIELD.format(field='refresh_token')})",
    ])


def card_commands(base_url: str, card_id: str) -> str:
    """Read the card just added, with the holder's access token."""
    api = base_url.rstrip("/") + Environment.SANDBOX.base_path
    return "\n".join([
        f"CARD_ID={shlex.quote(card_id)}",
        f"curl -s {shlex.quote(api)}/me/cards/$CARD_ID -H \"Client-Id: $CLIENT_ID\" -H \"Access-Token: $ACCESS_TOKEN\"",
    ])
