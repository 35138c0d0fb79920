"""Bulk import of merchants and members from CSV (docs/operator-tools.md), through the same
services as one at a time: ``merchants.onboard`` and ``members.enrol``.

- **Dry run**: every row is checked, against the file and the store, and nothing is written.
- **Every error at once**: row number (the header is row 1), column, stable code, message.
- **All or nothing**: a file with any error writes nothing, so a corrected file is simply run
  again; a file without errors is written in one transaction.
- **Idempotent re-run**: a row already in the store with the same content is ``unchanged``; one
  whose id is there with other content is an ``import.conflict`` error for that row (an import
  never edits a merchant or a member's consents: that is their own flow's job).

Imported merchants get no API key: the operator issues one per store or till afterwards
(``jifen keys create``), so no import report ever carries a secret.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from jifen.alliance._csvrows import MAX_ROWS, RowError, read_rows, yes_no
from jifen.alliance.errors import ImportRefused
from jifen.alliance.members import PURPOSES, enrol, member_id_of, normalize_phone
from jifen.alliance.merchants import MERCHANT_ID, Merchant, MerchantStatus, Store, onboard
from jifen.app.context import Context
from jifen.errors import JifenError
from jifen.ledger.model import ID_PATTERN
from jifen.store import tables as t

__all__ = [
    "MAX_ROWS",
    "ImportReport",
    "RowError",
    "RowResult",
    "import_members",
    "import_merchants",
]

MERCHANT_COLUMNS = ("merchant_id", "name", "category", "legal_name", "licence_no")
MERCHANT_OPTIONAL = ("contact_name", "stores")
MEMBER_COLUMNS = ("phone", "terms", "privacy")
MEMBER_OPTIONAL = ("marketing",)
CATEGORY = re.compile(r"[a-z_]{1,32}")
LICENCE = re.compile(r"[0-9A-Z]{18}")  # 统一社会信用代码, as the API's KycIn
MAX_STORES = 200
PHONE_RULE = (
    "中国大陆手机号，11 位，以 1 开头 / a mainland mobile number, 11 digits starting with 1"
)
CONSENT_RULE = "须同意会员条款与隐私政策 / terms and privacy consent are required"
MERCHANT_CONFLICT = "商家已存在且资料不同 / a merchant with this id exists with other details"
MEMBER_CONFLICT = "会员已存在且同意项不同 / this member exists with other consents"


@dataclass(frozen=True)
class RowResult:
    row: int
    id: str  # the merchant id, or the member id the phone enrols as
    outcome: str  # new (created, or would be in a dry run) | unchanged


@dataclass(frozen=True)
class ImportReport:
    kind: str  # merchants | members
    dry_run: bool
    written: bool  # False for a dry run, and for a file with errors
    rows: int
    new: int
    unchanged: int
    results: list[RowResult]
    errors: list[RowError]


class _Rows:
    """Collects one file's errors and the rows that passed."""

    def __init__(self) -> None:
        self.errors: list[RowError] = []

    def fail(self, row: int, column: str, code: str, message: str) -> None:
        self.errors.append(RowError(row, column, code, message))

    def duplicate(self, row: int, column: str, first: int) -> None:
        message = f"与第 {first} 行重复 / the same as row {first}"
        self.errors.append(RowError(row, column, "import.duplicate_row", message))


def _nfkc(value: str) -> str:
    return unicodedata.normalize("NFKC", value)


def _stores(text: str) -> tuple[Store, ...]:
    """``s1:国贸店:北京;s2:三里屯店`` → stores; ValueError with the reason."""
    stores = []
    for part in (p.strip() for p in text.split(";") if p.strip()):
        store_id, _, rest = part.partition(":")
        name, _, city = rest.partition(":")
        if not ID_PATTERN.fullmatch(store_id.strip()) or not 1 <= len(name.strip()) <= 100:
            raise ValueError(f"门店写作 编号:名称[:城市] / a store is id:name[:city], not {part!r}")
        stores.append(Store(store_id.strip(), name.strip(), city.strip()[:50]))
    if len(stores) > MAX_STORES or len({s.store_id for s in stores}) != len(stores):
        raise ValueError(f"门店编号须唯一且至多 {MAX_STORES} 个 / at most 200 distinct store ids")
    return tuple(stores)


def _merchant(row: int, cells: dict[str, str], rows: _Rows) -> Merchant | None:
    c = {k: _nfkc(v) for k, v in cells.items()}
    before = len(rows.errors)
    for column in MERCHANT_COLUMNS:
        if not c[column]:
            rows.fail(row, column, "import.missing_value", f"{column} 不能为空 / is required")
    checks: list[tuple[str, Callable[[str], bool], str]] = [
        ("merchant_id", lambda v: bool(MERCHANT_ID.fullmatch(v)), "1-32 位 a-z 0-9 _ -"),
        ("name", lambda v: len(v) <= 200, "至多 200 字 / at most 200 characters"),
        ("category", lambda v: bool(CATEGORY.fullmatch(v)), "行业：a-z 与 _ / a-z and _"),
        ("legal_name", lambda v: len(v) <= 200, "至多 200 字 / at most 200 characters"),
        (
            "licence_no",
            lambda v: bool(LICENCE.fullmatch(v)),
            "18 位统一社会信用代码 / 18 of 0-9 A-Z",
        ),
        ("contact_name", lambda v: len(v) <= 50, "至多 50 字 / at most 50 characters"),
    ]
    for column, ok, rule in checks:
        if c.get(column) and not ok(c[column]):
            rows.fail(row, column, "import.invalid_value", f"{column}: {rule}")
    try:
        stores = _stores(c.get("stores", ""))
    except ValueError as exc:
        rows.fail(row, "stores", "import.invalid_value", str(exc))
        stores = ()
    if len(rows.errors) > before:
        return None
    kyc = {"legal_name": c["legal_name"], "licence_no": c["licence_no"]}
    kyc["contact_name"] = c.get("contact_name", "")
    return Merchant(c["merchant_id"], c["name"], c["category"], MerchantStatus.ACTIVE, kyc, stores)


def _same_merchant(stored: Any, m: Merchant) -> bool:
    return (stored.name, stored.category, json.loads(stored.kyc), json.loads(stored.stores)) == (
        m.name, m.category, m.kyc, [s.__dict__ for s in m.stores],
    )  # fmt: skip


def import_merchants(
    ctx: Context, data: bytes, *, dry_run: bool, now: datetime, conn: Connection | None = None
) -> ImportReport:
    """Check every row; unless a dry run or an error, onboard the new ones in one transaction."""
    cells, errors = read_rows(data, MERCHANT_COLUMNS, MERCHANT_OPTIONAL)
    rows = _Rows()
    rows.errors += errors
    parsed = [(n, m) for n, c in cells if (m := _merchant(n, c, rows)) is not None]

    def work(tx: Connection) -> ImportReport:
        results: list[RowResult] = []
        seen: dict[str, int] = {}
        for n, m in parsed:
            if m.merchant_id in seen:
                rows.duplicate(n, "merchant_id", seen[m.merchant_id])
                continue
            seen[m.merchant_id] = n
            stored = tx.execute(
                select(t.merchants).where(t.merchants.c.merchant_id == m.merchant_id)
            ).first()
            if stored is not None and not _same_merchant(stored, m):
                rows.fail(n, "merchant_id", "import.conflict", MERCHANT_CONFLICT)
                continue
            results.append(RowResult(n, m.merchant_id, "unchanged" if stored else "new"))
        return _finish(ctx, "merchants", dry_run, len(cells), results, rows, tx, now,
                       {m.merchant_id: m for _, m in parsed})  # fmt: skip

    return _run(ctx, dry_run, conn, work)


def _run(
    ctx: Context, dry_run: bool, conn: Connection | None, work: Callable[[Connection], ImportReport]
) -> ImportReport:
    if dry_run:
        with ctx.reading(conn) as reading:
            return work(reading)
    return ctx.atomic(conn, work)


def _finish(
    ctx: Context,
    kind: str,
    dry_run: bool,
    count: int,
    results: list[RowResult],
    rows: _Rows,
    tx: Connection,
    now: datetime,
    values: dict[str, Any],
) -> ImportReport:
    errors = sorted(rows.errors, key=lambda e: (e.row, e.column))
    write = not dry_run and not errors
    if not dry_run and errors:
        raise ImportRefused(
            f"导入文件有 {len(errors)} 处错误，未写入任何行 / {len(errors)} errors in the file: "
            "nothing was imported",
            errors=[e.__dict__ for e in errors],
            count=len(errors),
        )
    for r in results if write else ():
        if r.outcome == "new":
            if kind == "merchants":
                onboard(ctx, values[r.id], now, conn=tx)
            else:
                phone, consents = values[r.id]
                enrol(ctx, phone, consents, now, conn=tx, new_id=r.id)
    new = sum(1 for r in results if r.outcome == "new")
    return ImportReport(kind, dry_run, write, count, new, len(results) - new, results, errors)


def _member(row: int, cells: dict[str, str], rows: _Rows) -> tuple[str, dict[str, bool]] | None:
    before = len(rows.errors)
    phone = ""
    try:
        phone = normalize_phone(cells["phone"])
    except JifenError:
        rows.fail(row, "phone", "import.invalid_value", PHONE_RULE)
    consents: dict[str, bool] = {}
    for purpose in PURPOSES:
        granted = yes_no(_nfkc(cells.get(purpose, "")))
        if granted is None:
            rows.fail(
                row, purpose, "import.invalid_value", "填 1/0、是/否 / write 1 or 0, 是 or 否"
            )
        consents[purpose] = bool(granted)
    for purpose in ("terms", "privacy"):
        if cells.get(purpose) is not None and yes_no(_nfkc(cells[purpose])) is False:
            rows.fail(row, purpose, "member.consent_required", CONSENT_RULE)
    return (phone, consents) if len(rows.errors) == before else None


def import_members(
    ctx: Context, data: bytes, *, dry_run: bool, now: datetime, conn: Connection | None = None
) -> ImportReport:
    """Members by phone with their consents, enrolled as ``members.enrol`` does (sealed phone,
    consents recorded with the policy version)."""
    cells, errors = read_rows(data, MEMBER_COLUMNS, MEMBER_OPTIONAL)
    rows = _Rows()
    rows.errors += errors
    parsed = [(n, m) for n, c in cells if (m := _member(n, c, rows)) is not None]

    def work(tx: Connection) -> ImportReport:
        results: list[RowResult] = []
        seen: dict[str, int] = {}
        values: dict[str, tuple[str, dict[str, bool]]] = {}
        ids: dict[str, str] = {}  # one id per number (an erased one's is fresh, so cached)
        for n, (phone, consents) in parsed:
            number = normalize_phone(phone)
            member_id = ids.get(number) or ids.setdefault(
                number, member_id_of(ctx, number, conn=tx)
            )
            if member_id in seen:
                rows.duplicate(n, "phone", seen[member_id])
                continue
            seen[member_id] = n
            stored = _consents(tx, member_id)
            if stored is not None and stored != consents:
                rows.fail(n, "phone", "import.conflict", MEMBER_CONFLICT)
                continue
            values[member_id] = (phone, consents)
            results.append(RowResult(n, member_id, "unchanged" if stored else "new"))
        return _finish(ctx, "members", dry_run, len(cells), results, rows, tx, now, values)

    return _run(ctx, dry_run, conn, work)


def _consents(conn: Connection, member_id: str) -> dict[str, bool] | None:
    """The member's consents now (the latest per purpose), or None if no such member."""
    c = t.consents.c
    found = conn.execute(
        select(c.purpose, c.granted).where(c.member_id == member_id).order_by(c.at)
    ).all()
    return {p: bool(g) for p, g in found} if found else None
