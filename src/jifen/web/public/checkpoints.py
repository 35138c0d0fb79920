"""The signed checkpoints in public (issue 15, docs/transparency.md): the feed page, newest
first, and the latest checkpoint as the liabilities page shows it.

The figures are the checkpoint documents' own, exactly what ``GET /v1/public/checkpoints``
answers, so a reader can hold the page against the JSON they keep. Also served here: the
standard-library script a member checks their proof file with (``jifen.transparency.verify_proof``,
shipped in the package; ``tools/verify_proof.py`` in a checkout links to it)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, HTMLResponse
from starlette.exceptions import HTTPException

import jifen.transparency
from jifen.app import Context
from jifen.app.paging import encode_cursor
from jifen.proofs import Checkpoint, latest_checkpoint, list_checkpoints
from jifen.web.access import Viewer
from jifen.web.render import page

router = APIRouter(include_in_schema=False)
FEED_PAGE = 20
VERIFIER = Path(jifen.transparency.__file__).with_name("verify_proof.py")  # shipped in the package
VERIFIER_PATH = "/verify_proof.py"


@dataclass(frozen=True)
class CheckpointView:
    """One checkpoint as a page shows it: the document's figures and its signature's key."""

    seq: int
    taken_at: datetime
    business_date: str | None
    root: str
    total: int
    members: int
    reserve_fen: int
    liability_fen: int
    algorithm: str
    key_id: str
    public_key: str
    digest: str
    json_path: str


def checkpoint_view(c: Checkpoint) -> CheckpointView:
    doc, figures = c.document, c.figures
    return CheckpointView(
        seq=c.seq,
        taken_at=datetime.fromisoformat(doc["taken_at"].replace("Z", "+00:00")),
        business_date=doc["business_date"],
        root=figures.root,
        total=figures.total,
        members=figures.members,
        reserve_fen=figures.reserve_fen,
        liability_fen=figures.liability_fen,
        algorithm=str(c.signature.get("algorithm", "")),
        key_id=str(c.signature.get("key_id", "")),
        public_key=str(c.signature.get("public_key", "")),
        digest=c.digest,
        json_path=f"/v1/public/checkpoints/{c.seq}",
    )


def latest_view(ctx: Context) -> CheckpointView | None:
    found = latest_checkpoint(ctx)
    return None if found is None else checkpoint_view(found)


def verifier_path() -> str | None:
    """Where this site serves the checker, or None when it cannot (no source checkout)."""
    return VERIFIER_PATH if VERIFIER.is_file() else None


def newest_first(ctx: Context, upto: int, size: int) -> list[CheckpointView]:
    """Checkpoints ``upto - size + 1`` … ``upto``, newest first (their numbers run from 1
    without gaps, so a page is a range of numbers read through the feed's own cursor)."""
    after = max(upto - size, 0)
    cursor = encode_cursor([after]) if after else None
    found = list_checkpoints(ctx, cursor=cursor, limit=upto - after)
    return [checkpoint_view(c) for c in reversed(found.items)]


@router.get("/checkpoints", response_class=HTMLResponse)
def feed_page(
    request: Request, who: Viewer, upto: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None
) -> HTMLResponse:
    ctx = request.app.state.ctx
    latest = latest_checkpoint(ctx)
    last = 0 if latest is None else latest.seq
    upto = last if upto is None else min(upto, last)
    items = newest_first(ctx, upto, FEED_PAGE) if upto else []
    older = upto - FEED_PAGE if upto > FEED_PAGE else None
    return page(
        request, "public/checkpoints.html", who=who, items=items, older=older, nav="checkpoints"
    )


@router.get(VERIFIER_PATH)
def verifier() -> FileResponse:
    if not VERIFIER.is_file():
        raise HTTPException(404)  # an installed wheel: the pages say where to find it
    return FileResponse(
        VERIFIER,
        media_type="text/x-python; charset=utf-8",
        filename="verify_proof.py",
    )
