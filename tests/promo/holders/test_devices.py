"""holders/devices.py and record_device: which User-Agents are phones, and one row per device
whatever races."""

from __future__ import annotations

import asyncio

import pytest

from cielo.db import Database
from cielo.promo.holders.devices import DeviceSighting, platform
from cielo.promo.holders.service import record_device
from cielo.security import tokens
from tests.support.db import db_sql, run


@pytest.mark.parametrize("user_agent,kind", [
    ("Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Mobile Safari/537.36",
     "ANDROID"),
    ("Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36",
     "ANDROID"),  # a tablet
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/124.0 "
     "Mobile/15E148 Safari/604.1", "IOS"),
    ("Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 "
     "Safari/604.1", "IOS"),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36", None),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
     None),  # also iPadOS Safari's default: only what the browser says is known
    ("curl/8.5.0", None), ("", None), (None, None),
])
def test_phones_are_told_by_their_user_agent(user_agent, kind):
    assert platform(user_agent) == kind


def test_a_device_seen_by_racing_sign_ins_is_one_row(settings):
    db_sql(settings, "INSERT INTO holders (environment, cpf_fingerprint, cpf_encrypted, name, email, birthdate, "
                     "password_hash, created_at) VALUES ('sandbox', 'f', 'x', 'Ana', 'a@example.com', '1990-01-01', 'h', "
                     "CURRENT_TIMESTAMP)")
    (holder_id,), = db_sql(settings, "SELECT id FROM holders")
    device = DeviceSighting("IOS", tokens.link_id())

    async def go():
        db = Database(settings.resolved_database_url, pool_size=4)

        async def sign_in():
            async with db.write() as session:
                await record_device(db, session, holder_id, device)
                await asyncio.sleep(0.05)  # both transactions open at once (PostgreSQL)

        try:
            await asyncio.gather(*(sign_in() for _ in range(4)))
            async with db.write() as session:
                await record_device(db, session, holder_id, DeviceSighting("ANDROID", tokens.link_id()))
        finally:
            await db.dispose()

    run(go())
    assert db_sql(settings, "SELECT type FROM holder_devices ORDER BY id") == [("IOS",), ("ANDROID",)]
