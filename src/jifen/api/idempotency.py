"""``Idempotency-Key`` on every write: the same key and body return the first response; the same
key with another body is a 409. Keys are scoped to the caller.

The ledger writes underneath are idempotent on keys derived from the business identity (order
ref, refund ref, code), so a crash between the write and the stored response is healed by the
retry: the ledger replays, and the response is stored then.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Header, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import select

from jifen.alliance.context import MAX_PAGE
from jifen.alliance.errors import IdempotencyKeyConflict, InvalidRequest
from jifen.api.auth import Caller
from jifen.ledger.model import KEY_PATTERN
from jifen.store import tables as t
from jifen.store.bulk import insert_missing

IdemKey = Annotated[str | None, Header(alias="Idempotency-Key")]
"""The header every write takes (optional in the schema so its absence is a clear 400)."""
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE)]
"""A list's page size."""


class KeyRequired(InvalidRequest):
    code = "idempotency.key_required"
    status = 400


def _request_hash(request: Request, body: Any) -> str:
    payload = json.dumps(
        [request.method, request.url.path, body], sort_keys=True, default=str, ensure_ascii=False
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def once(
    request: Request,
    who: Caller,
    key: str | None,
    body: BaseModel | None,
    run: Callable[[], BaseModel],
    status: int = 200,
    secret: str | None = None,
) -> JSONResponse:
    """Run a write once per (caller, key). ``secret`` names a top-level response field that is a
    credential (an API key, a token, a redemption code): it is never stored, so a replay returns
    the record with that field ``null`` (ask again under a new key for a new credential)."""
    if not key or not KEY_PATTERN.fullmatch(key):
        raise KeyRequired(
            "写操作须带 Idempotency-Key 请求头（1-128 位 A-Z a-z 0-9 . _ : / @ -）/ "
            "writes need an Idempotency-Key header of 1-128 characters"
        )
    ctx = request.app.state.ctx
    digest = _request_hash(request, body.model_dump(mode="json") if body else None)
    where = (t.idempotency.c.scope == who.scope, t.idempotency.c.idem_key == key)
    with ctx.engine.connect() as conn:
        stored = conn.execute(select(t.idempotency).where(*where)).first()
    if stored is not None:
        if stored.request_hash != digest:
            raise IdempotencyKeyConflict(
                "该 Idempotency-Key 已用于另一个请求 / this key was used with another request"
            )
        return JSONResponse(
            json.loads(stored.response), stored.status, headers={"Idempotent-Replayed": "true"}
        )
    content = run().model_dump(mode="json")
    kept = {**content, secret: None} if secret else content
    stored_row = {
        "scope": who.scope,
        "idem_key": key,
        "request_hash": digest,
        "status": status,
        "response": json.dumps(kept, ensure_ascii=False),
        "created_at": ctx.clock.now(),
    }
    with ctx.writer.begin() as conn:  # a concurrent retry may have stored the same outcome first
        insert_missing(conn, t.idempotency, [stored_row])
    return JSONResponse(content, status)
