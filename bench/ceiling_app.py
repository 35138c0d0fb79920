"""The framework ceiling for ``bench/http.py``: the least an order endpoint on our stack can do.

    JIFEN_CEILING_DB=postgresql://… JIFEN_CEILING_KEY=… uvicorn ceiling_app:app --app-dir DIR

``bench/http.py`` starts it from a folder DIR that holds only this file (a link to it): bench/
itself also holds ``http.py``, which on a worker's path would stand in for the standard library's
``http``.

An async FastAPI app with one route, ``POST /v1/orders``, that does what every order request
must do and nothing more: check the bearer key and the ``Idempotency-Key`` header, validate the
body with Jifen's own ``OrderIn`` (so the same pydantic constraints, NFKC included, cost the
same), and write one row with one ``INSERT`` through a psycopg 3 async pool (autocommit: one
round trip, one WAL flush). Served by uvicorn like ``jifen serve``, hit by the same wrk script
with the same connections, it is what Jifen's orders/s is divided by: the gap between the two
is Jifen's own work (the ledger entry, lot, balances, idempotency record and their locks), not
FastAPI's, uvicorn's or PostgreSQL's.

A repeated ``Idempotency-Key`` is refused with 409 by the table's primary key, so a benchmark
whose keys collided would show it in its non-2xx count rather than in a flattering figure.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import psycopg
from fastapi import FastAPI, Header, HTTPException, Request
from psycopg_pool import AsyncConnectionPool

from jifen.api.schemas import OrderIn
from jifen.ledger.model import KEY_PATTERN

POOL_MIN, POOL_MAX = 4, 16
"""Connections the pool keeps open and may grow to: more than the CPUs, so requests never wait
on the pool while PostgreSQL could take them."""
MERCHANT_ID = "ceiling"
SCHEMA = """
CREATE TABLE IF NOT EXISTS ceiling_orders (
    idempotency_key text PRIMARY KEY,
    merchant_id text NOT NULL,
    order_ref text NOT NULL,
    member_id text NOT NULL,
    amount_fen bigint NOT NULL CHECK (amount_fen > 0),
    paid_at timestamptz NOT NULL,
    UNIQUE (merchant_id, order_ref)
)
"""
INSERT = (
    "INSERT INTO ceiling_orders (idempotency_key, merchant_id, order_ref, member_id, amount_fen,"
    " paid_at) VALUES (%s, %s, %s, %s, %s, %s)"
)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Open the pool and create the table (under a lock, in case several workers start)."""
    pool = AsyncConnectionPool(
        os.environ["JIFEN_CEILING_DB"],
        min_size=POOL_MIN,
        max_size=POOL_MAX,
        kwargs={"autocommit": True},
        open=False,
    )
    await pool.open(wait=True, timeout=30)
    async with pool.connection() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(7110)")
        await conn.execute(SCHEMA)
    app.state.pool = pool
    app.state.bearer = f"Bearer {os.environ['JIFEN_CEILING_KEY']}"
    try:
        yield
    finally:
        await pool.close()


app = FastAPI(title="Jifen benchmark ceiling", lifespan=lifespan)


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/v1/orders", status_code=201)
async def record_order(
    request: Request,
    body: OrderIn,
    authorization: Annotated[str | None, Header()] = None,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> dict[str, Any]:
    """Check the caller and the key, then one INSERT: the floor under any order endpoint."""
    if authorization is None or not hmac.compare_digest(authorization, request.app.state.bearer):
        raise HTTPException(401, "bad credentials")
    if idempotency_key is None or not KEY_PATTERN.fullmatch(idempotency_key):
        raise HTTPException(400, "writes need an Idempotency-Key header")
    row = (idempotency_key, MERCHANT_ID, body.order_ref, body.member_id, body.amount_fen)
    try:
        async with request.app.state.pool.connection() as conn:
            await conn.execute(INSERT, (*row, body.paid_at))
    except psycopg.errors.UniqueViolation as exc:
        raise HTTPException(409, "this key or order_ref was used before") from exc
    return {"merchant_id": MERCHANT_ID, **body.model_dump(mode="json")}
