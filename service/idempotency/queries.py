"""One typed function per named statement of sql/idempotency.sql."""

from __future__ import annotations

from datetime import timedelta

from service.db.statements import Executor, One, Val
from service.idempotency.answers import Answer

LOCK_IDEMPOTENCY_KEY = Val.bind("lock_idempotency_key")
IDEMPOTENCY_KEY_ANSWER = One.bind("idempotency_key_answer")
RECORD_IDEMPOTENCY_KEY_ANSWER = Val.bind("record_idempotency_key_answer")
PURGE_EXPIRED_IDEMPOTENCY_KEYS = Val.bind("purge_expired_idempotency_keys")


async def lock_key(tx: Executor, *, user_id: str, key: str) -> bool:
    """Hold the user's key until ``tx``'s transaction ends; False, at once, while another transaction holds it."""
    locked: bool = await tx.fetchval(LOCK_IDEMPOTENCY_KEY.sql, user_id, key)
    return locked


async def recorded_answer(tx: Executor, *, user_id: str, key: str, within: timedelta) -> Answer | None:
    """The answer recorded under the user's key less than ``within`` ago; call it holding the key's lock."""
    row = await tx.fetchrow(IDEMPOTENCY_KEY_ANSWER.sql, user_id, key, within)
    return Answer(*row) if row else None


async def record_answer(tx: Executor, *, user_id: str, key: str, answer: Answer, replacing: timedelta) -> bool:
    """Record ``answer`` under the user's key, in place of one older than ``replacing``.

    False when an answer younger than that is there: then someone recorded it since the look-up,
    which holding the key's lock rules out; the caller rolls back rather than commit a second write.
    """
    recorded: bool | None = await tx.fetchval(
        RECORD_IDEMPOTENCY_KEY_ANSWER.sql,
        user_id,
        key,
        answer.fingerprint,
        answer.status,
        answer.body,
        answer.content_type,
        answer.location,
        answer.etag,
        replacing,
    )
    return recorded is not None


async def purge_expired_keys(db: Executor, *, older_than: timedelta, batch: int) -> int:
    """Delete at most ``batch`` keys, of any user, recorded more than ``older_than`` ago; returns how many went.

    Meant to be called repeatedly, by a periodic job, until it returns less than ``batch``: each
    call is one short transaction, so the purge never holds many rows at once. It skips the rows
    requests are replacing (FOR UPDATE SKIP LOCKED): it never waits for one, and several instances
    may purge at once, each row going once. Pass the contract's lifetime
    (``service.idempotency.keys.LIFETIME``) or more: a younger key must still replay.
    """
    purged: int = await db.fetchval(PURGE_EXPIRED_IDEMPOTENCY_KEYS.sql, older_than, batch)
    return purged
