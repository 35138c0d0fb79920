"""Operator tools (docs/operator-tools.md): bulk import from CSV, the audited member lookup, and
statement and order exports as CSV (for a merchant its own, for the operator any or all)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, StreamingResponse
from sqlalchemy import Connection

from jifen.alliance import imports, lookup
from jifen.alliance.errors import ImportRefused
from jifen.api.auth import Caller, Ctx, Operator, OperatorOrMerchant
from jifen.api.errors import Forbidden
from jifen.api.idempotency import IdemKey, once
from jifen.api.schemas import MemberOut, Strict
from jifen.api.schemas._tools import AuditRecordOut, ImportOut, LookupIn, LookupOut
from jifen.app.context import Context
from jifen.errors import InvalidRequest
from jifen.settlement import exports

router = APIRouter(prefix="/v1", tags=["operator tools 运营工具"])

CSV_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"text/csv": {"schema": {"type": "string", "minLength": 1, "pattern": "\\S"}}},
        "description": "UTF-8 CSV, header first (docs/operator-tools.md); at most 10,000 rows",
    }
}
CSV_ANSWER: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "CSV, UTF-8"}
}


class _CsvDigest(Strict):
    """What an import's Idempotency-Key is bound to: the file's hash and the mode."""

    kind: str
    sha256: str
    dry_run: bool


Importer = Callable[..., imports.ImportReport]


async def _import(
    request: Request, who: Caller, key: str | None, dry_run: bool, kind: str, importer: Importer
) -> JSONResponse:
    data = await request.body()  # bounded by the body limit (1 MiB)
    if not data.strip():
        raise InvalidRequest("请求体须为 CSV 文件 / the body is the CSV file", field="body")
    ctx: Context = request.app.state.ctx
    digest = _CsvDigest(kind=kind, sha256=hashlib.sha256(data).hexdigest(), dry_run=dry_run)

    def run(tx: Connection) -> ImportOut:
        report = importer(ctx, data, dry_run=dry_run, now=ctx.clock.now(), conn=tx)
        if report.errors:  # over HTTP a dry run with errors is refused like the real run
            raise ImportRefused(
                f"导入文件有 {len(report.errors)} 处错误 / {len(report.errors)} errors in the "
                "file: nothing was imported",
                errors=[e.__dict__ for e in report.errors],
                count=len(report.errors),
            )
        return ImportOut.model_validate(report)

    answer: JSONResponse = await run_in_threadpool(once, request, who, key, digest, run)
    return answer


@router.post("/imports/merchants", response_model=ImportOut, openapi_extra=CSV_BODY)
async def import_merchants(
    request: Request, who: Operator, dry_run: bool = False, key: IdemKey = None
) -> JSONResponse:
    """批量导入商家 / onboard merchants from CSV: every row checked, all written or none."""
    return await _import(request, who, key, dry_run, "merchants", imports.import_merchants)


@router.post("/imports/members", response_model=ImportOut, openapi_extra=CSV_BODY)
async def import_members(
    request: Request, who: Operator, dry_run: bool = False, key: IdemKey = None
) -> JSONResponse:
    """批量导入会员 / enrol members from CSV (phone and consents), all or none."""
    return await _import(request, who, key, dry_run, "members", imports.import_members)


def _asked(member: str) -> dict[str, str]:
    """A member id (``m`` and 15 hex digits) or else a phone number."""
    return {"member_id": member} if member.startswith("m") else {"phone": member}


@router.post("/member-lookups", response_model=LookupOut)
def lookup_member(
    request: Request, ctx: Ctx, who: Operator, body: LookupIn, key: IdemKey = None
) -> JSONResponse:
    """查询会员（记入审计）/ find a member by id or phone; every lookup is an audit record."""

    def run(tx: Connection) -> LookupOut:
        found = lookup.lookup_member(
            ctx, actor=who.actor, reason=body.reason, now=ctx.clock.now(),
            **_asked(body.member), conn=tx,
        )  # fmt: skip
        member = MemberOut.model_validate(found.member) if found.member else None
        return LookupOut(record=AuditRecordOut.model_validate(found.record), member=member)

    return once(request, who, key, body, run)


# -- exports ------------------------------------------------------------------------------------

From = Annotated[date, Query(alias="from", description="首个营业日 / first business day")]
To = Annotated[date, Query(alias="to", description="最后营业日（含）/ last business day")]


def _whose(who: Caller, merchant_id: str | None) -> str | None:
    """A merchant exports its own; the operator one merchant, or all (None)."""
    if who.role == "merchant":
        if merchant_id not in (None, who.merchant_id):
            raise Forbidden("无权访问 / not allowed")
        return who.merchant_id
    return merchant_id


def _csv(lines: Iterator[str], name: str) -> StreamingResponse:
    return StreamingResponse(
        (line.encode() for line in lines),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/exports/statements.csv", response_class=StreamingResponse, responses=CSV_ANSWER)
def export_statements(
    ctx: Ctx, who: OperatorOrMerchant, first: From, last: To, merchant_id: str | None = None
) -> StreamingResponse:
    """导出结算单 / statements of business days [from, to] as CSV, streamed."""
    lines = exports.statements_csv(ctx, _whose(who, merchant_id), first, last)
    return _csv(lines, f"statements-{first}-{last}.csv")


@router.get("/exports/orders.csv", response_class=StreamingResponse, responses=CSV_ANSWER)
def export_orders(
    ctx: Ctx, who: OperatorOrMerchant, first: From, last: To, merchant_id: str | None = None
) -> StreamingResponse:
    """导出订单 / orders paid on business days [from, to] with their points, as CSV, streamed."""
    lines = exports.orders_csv(ctx, _whose(who, merchant_id), first, last)
    return _csv(lines, f"orders-{first}-{last}.csv")
