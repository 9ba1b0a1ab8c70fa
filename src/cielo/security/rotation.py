"""Re-encrypting stored values under the newest secret key (``cielo admin rotate-keys``).

Every column that holds values of :class:`~cielo.security.secrets.SecretBox` is listed in
``cielo.models.ENCRYPTED_COLUMNS``; a rotation re-encrypts each in turn, so that no value is
left under a key about to be dropped."""

from __future__ import annotations

from sqlalchemy import Column, bindparam, select, update

from cielo.db import Database
from cielo.security.secrets import SecretBox


async def reencrypt_column(db: Database, box: SecretBox, column: Column, batch_size: int = 500) -> int:
    """Re-encrypt every value of ``column`` not under the newest key, a batch per transaction
    (rows locked meanwhile); returns how many were. The table's primary key must be ``id``."""
    box.refresh()
    table = column.table
    key = table.c.id
    stale = select(key, column).where(column.is_not(None), ~column.startswith(box.primary_id + ":"))
    change = update(table).where(key == bindparam("row_id")).values({column.name: bindparam("sealed")})
    done = 0
    while True:
        async with db.write() as session:
            rows = (await session.execute(stale.order_by(key).limit(batch_size).with_for_update())).all()
            if rows:
                await session.execute(change, [{"row_id": row_id, "sealed": box.reencrypt(value)}
                                               for row_id, value in rows])
        done += len(rows)
        if len(rows) < batch_size:
            return done
