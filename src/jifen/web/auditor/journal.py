"""The journal as an auditor reads it: each lane's latest block hash (to write down, then check
a later verification reaches it), the blocks with their hashes, a block's entries with their
legs, one entry. The same queries as ``GET /v1/audit/lanes``, ``/blocks`` and ``/entries``
(``jifen.api.routes_auditor``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse

from jifen.app.paging import decode_cursor, encode_cursor
from jifen.ledger import queries
from jifen.web.access import AuditorPage
from jifen.web.render import page

router = APIRouter(include_in_schema=False)
BLOCKS_PER_PAGE = 50
ENTRIES_PER_PAGE = 100
Lane = Annotated[int, Path(ge=0, le=2**31 - 1)]
Height = Annotated[int, Path(ge=1, le=2**62)]
LaneFilter = Annotated[int | None, Query(ge=0, le=2**31 - 1)]


@router.get("/auditor", response_class=HTMLResponse)
def home(request: Request, who: AuditorPage) -> HTMLResponse:
    """Each lane's height and latest block hash, as ``GET /v1/audit/lanes`` answers them; the
    lanes no entry went to yet are named in one line (their hash is the all-zero start)."""
    ctx = request.app.state.ctx
    with ctx.engine.connect() as conn:
        lanes = queries.chain_tips(conn)
    return page(
        request,
        "auditor/home.html",
        who=who,
        lanes=[lane for lane in lanes if lane[1]],
        empty=[lane for lane, height, _ in lanes if not height],
        now=ctx.clock.now(),
    )


@router.get("/auditor/blocks", response_class=HTMLResponse)
def blocks(
    request: Request, who: AuditorPage, chain_id: LaneFilter = None, cursor: str | None = None
) -> HTMLResponse:
    """Blocks by lane and height, a page at a time (``GET /v1/audit/blocks``)."""
    after = decode_cursor(cursor, (int, int))
    with request.app.state.ctx.engine.connect() as conn:
        found = queries.blocks(conn, chain_id=chain_id, after=after, limit=BLOCKS_PER_PAGE + 1)
    more = len(found) > BLOCKS_PER_PAGE
    last = found[BLOCKS_PER_PAGE - 1] if more else None
    return page(
        request,
        "auditor/blocks.html",
        who=who,
        blocks=found[:BLOCKS_PER_PAGE],
        chain_id=chain_id,
        next_cursor=encode_cursor([last.chain_id, last.height]) if last else None,
    )


@router.get("/auditor/blocks/{chain_id}/{height}", response_class=HTMLResponse)
def block(
    request: Request,
    who: AuditorPage,
    chain_id: Lane,
    height: Height,
    after: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
) -> HTMLResponse:
    """One block: its hashes and its entries with their legs, from position ``after`` on."""
    with request.app.state.ctx.engine.connect() as conn:
        found = queries.blocks(conn, chain_id=chain_id, after=(chain_id, height - 1), limit=1)
        if not found or found[0].height != height:
            raise HTTPException(404)
        entries = queries.journal(
            conn,
            chain_id=chain_id,
            after=(chain_id, height, after - 1),
            limit=ENTRIES_PER_PAGE + 1,
        )
    entries = [e for e in entries if e.height == height]
    more = len(entries) > ENTRIES_PER_PAGE
    return page(
        request,
        "auditor/block.html",
        who=who,
        block=found[0],
        entries=entries[:ENTRIES_PER_PAGE],
        next_after=entries[ENTRIES_PER_PAGE].seq if more else None,
    )


@router.get("/auditor/entries/{entry_id}", response_class=HTMLResponse)
def entry(
    request: Request, who: AuditorPage, entry_id: Annotated[str, Path(max_length=64)]
) -> HTMLResponse:
    """One journal entry: its place in the chain, its hashes, its legs and its detail."""
    with request.app.state.ctx.engine.connect() as conn:
        found = queries.journal_entry(conn, entry_id)
    if found is None:
        raise HTTPException(404)
    return page(request, "auditor/entry.html", who=who, entry=found)
