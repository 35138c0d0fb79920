"""Member lookup by the operator, by member id or by phone number, each one audited.

The phone is never searched in clear: it is normalised and found by its keyed hash
(``members.find_by_phone``'s way). Every lookup, found or not, writes an audit record in the
same transaction as its answer: who (the operator's key id, or the CLI's user), when, what was
asked (a member id, or the phone masked as 138****8000) and why (a reason is required). The
operator and auditors read the records (``audit_records``), newest first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select

from jifen.alliance.members import Member, get_member, normalize_phone
from jifen.app.context import Context
from jifen.app.paging import Page, check_limit, encode_cursor, older_than, ordered_id
from jifen.errors import InvalidRequest
from jifen.ledger.model import ID_PATTERN
from jifen.store import tables as t

__all__ = ["AuditRecord", "Lookup", "audit_records", "lookup_member"]

LOOKUP = "member.lookup"
MAX_REASON_CHARS = 500


@dataclass(frozen=True)
class AuditRecord:
    record_id: str
    at: datetime
    actor: str
    action: str
    query: str
    subject: str | None
    reason: str


@dataclass(frozen=True)
class Lookup:
    record: AuditRecord
    member: Member | None  # None: no member with that id or phone


def _query(member_id: str | None, phone: str | None) -> tuple[str, str | None]:
    """What the record says was asked, and the phone's normal form (if by phone)."""
    if (member_id is None) == (phone is None):
        raise InvalidRequest(
            "按会员编号或手机号之一查询 / look up by member_id or by phone, exactly one",
            field="member_id",
        )
    if member_id is not None:
        if not ID_PATTERN.fullmatch(member_id):
            raise InvalidRequest("会员编号格式不正确 / not a member id", field="member_id")
        return f"member_id {member_id}", None
    number = normalize_phone(phone or "")
    return f"phone {number[:3]}****{number[-4:]}", number


def lookup_member(
    ctx: Context,
    *,
    actor: str,
    reason: str,
    now: datetime,
    member_id: str | None = None,
    phone: str | None = None,
    conn: Connection | None = None,
) -> Lookup:
    """Find one member and record that it was looked for (found or not), in one transaction."""
    reason = (reason or "").strip()
    if not 1 <= len(reason) <= MAX_REASON_CHARS:
        raise InvalidRequest(
            "查询会员须说明理由（1-500 字）/ a lookup needs a reason of 1-500 characters",
            field="reason",
        )
    asked, number = _query(member_id, phone)

    def work(tx: Connection) -> Lookup:
        c = t.members.c
        where = (
            c.member_id == member_id
            if number is None
            else c.phone_lookup == (ctx.secrets.lookup(number))
        )
        found = tx.execute(
            select(c.member_id).where(where, c.erased_at.is_(None))
        ).scalar_one_or_none()
        record = AuditRecord(
            record_id=ordered_id("a"),
            at=now,
            actor=actor[:64],
            action=LOOKUP,
            query=asked,
            subject=found,
            reason=reason,
        )
        tx.execute(t.audit_records.insert().values(**record.__dict__))
        member = get_member(ctx, found, conn=tx) if found is not None else None
        return Lookup(record, member)

    return ctx.atomic(conn, work)


def audit_records(ctx: Context, *, cursor: str | None, limit: int) -> Page[AuditRecord]:
    """Every audit record, newest first; the cursor is (at, record id) of the page's last."""
    c = t.audit_records.c
    after = older_than(c.at, c.record_id, cursor)
    query = (
        select(t.audit_records)
        .where(after)
        .order_by(c.at.desc(), c.record_id.desc())
        .limit(check_limit(limit) + 1)
    )
    with ctx.engine.connect() as conn:
        rows = conn.execute(query).all()
    items = [AuditRecord(**r._mapping) for r in rows[:limit]]
    last = items[-1] if len(rows) > limit else None
    return Page(items, encode_cursor([last.at, last.record_id]) if last else None)
