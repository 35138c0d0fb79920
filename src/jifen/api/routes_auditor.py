"""The auditor's routes (docs/auditor.md), under ``/v1/audit``: read the journal, the blocks,
each lane's latest block hash, statements, liabilities and the lookup audit records, and run
``jifen verify`` remotely. An auditor credential opens these and nothing else (every other route
answers it ``auth.forbidden``); the operator may read them too.
"""

from __future__ import annotations

import threading
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy import Connection

from jifen.alliance import lookup
from jifen.api.auth import Ctx, Reader
from jifen.api.idempotency import IdemKey, Limit, once
from jifen.api.schemas import LiabilitiesOut, StatementPage, liabilities_out
from jifen.api.schemas._tools import (
    AuditRecordPage,
    BlockOut,
    BlockPage,
    JournalEntryOut,
    JournalPage,
    LaneOut,
    LegOut,
    VerificationOut,
    VerificationPage,
)
from jifen.app.paging import check_limit, decode_cursor, encode_cursor
from jifen.ledger import queries
from jifen.settlement import liabilities, statements, verifications

router = APIRouter(prefix="/v1/audit", tags=["auditor 审计"])
Lane = Annotated[int | None, Query(ge=0, le=2**31 - 1, description="只看一条链 / one lane")]


def _journal_out(e: queries.JournalEntry) -> JournalEntryOut:
    legs = [LegOut(account=a, asset=s, amount=n, lot_id=lot) for a, s, n, lot in e.legs]
    return JournalEntryOut(
        entry_id=e.entry_id, kind=e.kind, at=e.at, chain_id=e.chain_id, height=e.height,
        seq=e.seq, entry_hash=e.entry_hash, idem_key=e.idem_key, body_hash=e.body_hash,
        detail=e.detail, legs=legs,
    )  # fmt: skip


@router.get("/entries", response_model=JournalPage)
def entries(
    ctx: Ctx, who: Reader, chain_id: Lane = None, cursor: str | None = None, limit: Limit = 50
) -> JournalPage:
    """日记账分录（按链、区块、序号）/ journal entries in chain order, with legs and hashes."""
    after = decode_cursor(cursor, (int, int, int))
    with ctx.engine.connect() as conn:
        found = queries.journal(conn, chain_id=chain_id, after=after, limit=check_limit(limit) + 1)
    last = found[limit - 1] if len(found) > limit else None
    return JournalPage(
        items=[_journal_out(e) for e in found[:limit]],
        next_cursor=encode_cursor([last.chain_id, last.height, last.seq]) if last else None,
    )


@router.get("/blocks", response_model=BlockPage)
def blocks(
    ctx: Ctx, who: Reader, chain_id: Lane = None, cursor: str | None = None, limit: Limit = 50
) -> BlockPage:
    """区块（按链、高度）/ blocks by lane and height, each with its hash and its predecessor's."""
    after = decode_cursor(cursor, (int, int))
    with ctx.engine.connect() as conn:
        found = queries.blocks(conn, chain_id=chain_id, after=after, limit=check_limit(limit) + 1)
    last = found[limit - 1] if len(found) > limit else None
    return BlockPage(
        items=[BlockOut.model_validate(b) for b in found[:limit]],
        next_cursor=encode_cursor([last.chain_id, last.height]) if last else None,
    )


@router.get("/lanes", response_model=list[LaneOut])
def lanes(ctx: Ctx, who: Reader) -> list[LaneOut]:
    """每条链最新区块的哈希 / each lane's height and latest block hash (to pin, then verify)."""
    with ctx.engine.connect() as conn:
        tips = queries.chain_tips(conn)
    return [LaneOut(chain_id=c, height=h, block_hash=tip) for c, h, tip in tips]


@router.get("/statements", response_model=StatementPage)
def audit_statements(
    ctx: Ctx,
    who: Reader,
    merchant_id: str | None = None,
    cursor: str | None = None,
    limit: Limit = 50,
) -> StatementPage:
    """结算单 / every merchant's daily statements (or one merchant's), newest first."""
    return StatementPage.model_validate(statements(ctx, merchant_id, cursor=cursor, limit=limit))


@router.get("/liabilities", response_model=LiabilitiesOut)
def audit_liabilities(ctx: Ctx, who: Reader) -> LiabilitiesOut:
    """负债报告 / outstanding points, their value, the reserve and its coverage."""
    return liabilities_out(liabilities(ctx))


@router.get("/records", response_model=AuditRecordPage)
def records(ctx: Ctx, who: Reader, cursor: str | None = None, limit: Limit = 50) -> AuditRecordPage:
    """会员查询审计记录 / who looked up which member, when and why, newest first."""
    return AuditRecordPage.model_validate(lookup.audit_records(ctx, cursor=cursor, limit=limit))


@router.post("/verifications", response_model=VerificationOut, status_code=202)
def verify(request: Request, ctx: Ctx, who: Reader, key: IdemKey = None) -> JSONResponse:
    """远程校验账本 / run jifen verify in the background; poll the answer's id for the report.
    While one runs, asking again answers that one."""
    started: list[str] = []

    def run(tx: Connection) -> VerificationOut:
        found, new = verifications.start_verification(ctx, who.actor, conn=tx)
        if new:
            started.append(found.verification_id)
        return VerificationOut.model_validate(found)

    answer = once(request, who, key, None, run, 202)
    for verification_id in started:  # after the commit: the run's row is there to update
        threading.Thread(
            target=verifications.run_verification,
            args=(ctx, verification_id),
            name=f"jifen-verify-{verification_id}",
            daemon=True,
        ).start()
    return answer


@router.get("/verifications", response_model=VerificationPage)
def list_verifications(
    ctx: Ctx, who: Reader, cursor: str | None = None, limit: Limit = 20
) -> VerificationPage:
    return VerificationPage.model_validate(
        verifications.list_verifications(ctx, cursor=cursor, limit=limit)
    )


@router.get("/verifications/{verification_id}", response_model=VerificationOut)
def get_verification(
    ctx: Ctx, who: Reader, verification_id: Annotated[str, Path(max_length=32)]
) -> VerificationOut:
    return VerificationOut.model_validate(verifications.get_verification(ctx, verification_id))
