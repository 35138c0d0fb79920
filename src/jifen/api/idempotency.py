"""``Idempotency-Key`` on every write: one key, one write, however many retries arrive together.

The key is claimed in the same transaction as the write it guards (a unit of work): the claim
is an insert of the key's row, the write runs on the same connection, and the answer is stored
in that row before the one commit. So:

- a retry that arrives while the first request runs waits on the claim (PostgreSQL holds the
  racing insert until the first transaction ends; SQLite runs one writer at a time) and then
  gets the stored answer (``Idempotent-Replayed: true``), or ``idempotency.conflict`` (409) if it
  carries another body; it never writes a second time;
- a crash before the commit leaves neither the write nor the claim: the retry runs afresh;
- a refusal (4xx) rolls the claim back with everything else: a refused request is not stored,
  and its retry is judged again.

Keys are scoped to the caller. The ledger writes underneath are idempotent on their business
identity (order ref, refund ref, code) as well, so a retry under a *new* key is still one write.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Header, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import Connection, select, update
from sqlalchemy.dialects import postgresql, sqlite

from jifen.api.auth import Caller
from jifen.api.errors import KeyRequired
from jifen.app import GroupCommit
from jifen.app.context import Context
from jifen.app.paging import MAX_PAGE
from jifen.ledger import IdempotencyConflict
from jifen.ledger.model import KEY_PATTERN
from jifen.store import tables as t

IdemKey = Annotated[str | None, Header(alias="Idempotency-Key")]
"""The header every write takes (optional in the schema so its absence is a clear 400)."""
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE)]
"""A list's page size."""
Work = Callable[[Connection], BaseModel]
"""A write: given the unit of work's connection, do it and return the answer."""


def _request_hash(request: Request, body: Any) -> str:
    payload = json.dumps(
        [request.method, request.url.path, body], sort_keys=True, default=str, ensure_ascii=False
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def _claim(tx: Connection, row: dict[str, Any]) -> bool:
    """Insert the key's row unless it is there; True if this request now owns the key."""
    insert = postgresql.insert if tx.dialect.name == "postgresql" else sqlite.insert
    claim = insert(t.idempotency).values(**row).on_conflict_do_nothing()
    return tx.execute(claim.returning(t.idempotency.c.idem_key)).first() is not None


def _checked_key(key: str | None) -> str:
    key = unicodedata.normalize("NFKC", key) if key else key
    if not key or not KEY_PATTERN.fullmatch(key):
        raise KeyRequired(
            "写操作须带 Idempotency-Key 请求头（1-128 位 A-Z a-z 0-9 . _ : / @ -）/ "
            "writes need an Idempotency-Key header of 1-128 characters"
        )
    return key


def _answer(stored: Any, digest: str) -> JSONResponse:
    """The stored answer to a key, or the conflict if this request is not the one it answered."""
    if stored.request_hash != digest:
        raise IdempotencyConflict(
            "该 Idempotency-Key 已用于另一个请求 / this key was used with another request"
        )
    return JSONResponse(
        json.loads(stored.response), stored.status, headers={"Idempotent-Replayed": "true"}
    )


def once(
    request: Request,
    who: Caller,
    key: str | None,
    body: BaseModel | None,
    run: Work,
    status: int = 200,
    secret: str | None = None,
) -> JSONResponse:
    """Run a write once per (caller, key). ``secret`` names a top-level response field that is a
    credential (an API key, a token, a redemption code): it is never stored, so a replay returns
    the record with that field ``null`` (ask again under a new key for a new credential)."""
    key = _checked_key(key)
    ctx: Context = request.app.state.ctx
    digest = _request_hash(request, body.model_dump(mode="json") if body else None)
    where = (t.idempotency.c.scope == who.scope, t.idempotency.c.idem_key == key)

    def work(tx: Connection) -> tuple[dict[str, Any] | None, Any]:
        claim = {
            "scope": who.scope,
            "idem_key": key,
            "request_hash": digest,
            "status": status,
            "response": "",
            "created_at": ctx.clock.now(),
        }
        if not _claim(tx, claim):
            return None, tx.execute(select(t.idempotency).where(*where)).one()
        content = run(tx).model_dump(mode="json")
        kept = {**content, secret: None} if secret else content
        stored = json.dumps(kept, ensure_ascii=False)
        tx.execute(update(t.idempotency).where(*where).values(response=stored))
        return content, None

    group: GroupCommit | None = request.app.state.group
    content, stored = group.run(work) if group is not None else ctx.atomic(None, work)
    if content is not None:
        return JSONResponse(content, status)
    return _answer(stored, digest)


def once_in_steps(
    request: Request,
    who: Caller,
    key: str | None,
    body: BaseModel | None,
    run: Callable[[], BaseModel],
    status: int = 200,
) -> JSONResponse:
    """For a write made of many transactions that is idempotent by itself (closing business days:
    each day closes once, every entry keyed by its day or lot): it cannot be one unit of work, so
    it runs, then its answer is stored unless a racing retry stored one first — and every caller
    of the key gets the one stored answer. A retry never writes twice, because the work itself
    never does."""
    key = _checked_key(key)
    ctx: Context = request.app.state.ctx
    digest = _request_hash(request, body.model_dump(mode="json") if body else None)
    where = (t.idempotency.c.scope == who.scope, t.idempotency.c.idem_key == key)
    with ctx.engine.connect() as conn:
        stored = conn.execute(select(t.idempotency).where(*where)).first()
    if stored is not None:
        return _answer(stored, digest)
    content = run().model_dump(mode="json")
    row = {
        "scope": who.scope,
        "idem_key": key,
        "request_hash": digest,
        "status": status,
        "response": json.dumps(content, ensure_ascii=False),
        "created_at": ctx.clock.now(),
    }

    def store(tx: Connection) -> Any:
        return None if _claim(tx, row) else tx.execute(select(t.idempotency).where(*where)).one()

    stored = ctx.atomic(None, store)
    return JSONResponse(content, status) if stored is None else _answer(stored, digest)
