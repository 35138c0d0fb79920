"""A member's personal information (个人信息, PIPL; compliance.md PII-1..PII-4): the privacy
notice they acknowledged, their consents, a copy of their data, and erasure on request.

Erasure (art 47) removes every link between the member id and a person, while the journal and
the balances, which the law keeps at least five years (PAY-3), stay exactly as they were: the
journal never named a person, only the pseudonymous member id (docs/privacy.md). What goes: the
sealed phone and its lookup hash (replaced by random values that open nothing), the consents,
the acknowledged notices, sign-in codes, redemption codes; every session is ended; the masked
phone in past operator lookups is blanked. What is added: an audit record that an erasure
happened, naming only the id. Points left in the account are given up (the member confirms it):
they stay in the ledger, unclaimable, and expire on their lots' own dates like any others, so
breakage is recorded by the ledger's ordinary expiry. Points still pending wait for their
release first (a refund inside the return window may still move them).
"""

from __future__ import annotations

import csv
import io
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, func, select, update

from jifen.alliance import members
from jifen.alliance.errors import (
    MemberErased,
    MemberNotFound,
    PointsOutstanding,
    PointsPending,
)
from jifen.alliance.signin_codes import forget_phone
from jifen.app.context import Context
from jifen.app.paging import MAX_PAGE, ordered_id
from jifen.errors import InvalidRequest
from jifen.store import tables as t

REQUIRED = ("terms", "privacy")
OPTIONAL = tuple(p for p in members.PURPOSES if p not in REQUIRED)
ERASED = "member.erased"


# -- the notice ----------------------------------------------------------------------------------


def needs_notice(ctx: Context, member_id: str) -> bool:
    """Whether the member has yet to acknowledge the privacy notice in force (PII-4: shown at
    first sign-in, and again when the policy changes)."""
    c = t.privacy_acks.c
    with ctx.engine.connect() as conn:
        seen = conn.execute(
            select(c.at).where(c.member_id == member_id, c.policy_version == members.POLICY_VERSION)
        ).first()
    return seen is None


def acknowledge(ctx: Context, member_id: str, now: datetime) -> None:
    members.require_member(ctx, member_id)
    if needs_notice(ctx, member_id):
        with ctx.writer.begin() as conn:
            conn.execute(
                t.privacy_acks.insert().values(
                    member_id=member_id, policy_version=members.POLICY_VERSION, at=now
                )
            )


# -- consents ------------------------------------------------------------------------------------


def set_consent(ctx: Context, member_id: str, purpose: str, granted: bool, now: datetime) -> None:
    """Grant or withdraw an optional consent (marketing), at the store's time ``now`` (the
    clock enrolment recorded the first consents on). The required ones cannot be withdrawn
    while staying a member: withdrawing them is leaving, which is ``erase``."""
    if purpose not in OPTIONAL:
        raise InvalidRequest(
            f"只能更改可选的同意项 / only optional consents can change here: {purpose}",
            field="purpose",
        )
    members.require_member(ctx, member_id)
    c = t.consents.c
    with ctx.writer.begin() as conn:
        latest = conn.execute(
            select(func.max(c.at)).where(c.member_id == member_id, c.purpose == purpose)
        ).scalar_one_or_none()
        # the latest row wins: a change is never recorded at or before the one it replaces
        at = max(now, latest + timedelta(microseconds=1)) if latest else now
        conn.execute(
            t.consents.insert().values(
                member_id=member_id,
                purpose=purpose,
                at=at,
                granted=int(granted),
                policy_version=members.POLICY_VERSION,
            )
        )


# -- a copy of my data (art 45) ------------------------------------------------------------------


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None


def _plain(value: Any, *names: str) -> dict[str, Any]:
    """The named fields of a row or a dataclass, times as ISO text (JSON has no time type)."""
    fields = {name: getattr(value, name) for name in names}
    return {k: _iso(v) if isinstance(v, datetime) else v for k, v in fields.items()}


def _rows(conn: Connection, table: Any, member_id: str, order: str) -> list[Any]:
    c = table.c
    return list(conn.execute(select(table).where(c.member_id == member_id).order_by(c[order])))


def _all_history(ctx: Context, member_id: str) -> list[members.HistoryLine]:
    lines: list[members.HistoryLine] = []
    cursor: str | None = None
    while True:
        found = members.history(ctx, member_id, cursor=cursor, limit=MAX_PAGE)
        lines += found.items
        if not (cursor := found.next_cursor):
            return lines


def export(ctx: Context, member_id: str, now: datetime) -> dict[str, Any]:
    """Everything Jifen holds about the member, in plain values: the phone (unsealed: it is
    theirs), consents with their history, notices acknowledged, balance, every history line,
    and the sign-in sessions."""
    member = members.get_member(ctx, member_id)
    with ctx.engine.connect() as conn:
        row = conn.execute(select(t.members).where(t.members.c.member_id == member_id)).one()
        consents = _rows(conn, t.consents, member_id, "at")
        acks = _rows(conn, t.privacy_acks, member_id, "at")
        sessions = _rows(conn, t.web_sessions, member_id, "created_at")
    account = members.account(ctx, member_id, now)
    lot_fields = ("merchant_id", "order_ref", "rule_version")
    return {
        "member_id": member_id,
        "phone": ctx.secrets.unseal(row.phone_sealed),
        "enrolled_at": _iso(member.created_at),
        "exported_at": _iso(now),
        "consents": [_plain(c, "purpose", "granted", "at", "policy_version") for c in consents],
        "privacy_notices_acknowledged": [_plain(a, "policy_version", "at") for a in acks],
        "balance": {
            **_plain(account, "available", "pending", "debt"),
            "pending_lots": [
                _plain(lot, "pending", "release_at", *lot_fields) for lot in account.pending_lots
            ],
            "expiring_soon": [
                _plain(lot, "available", "expires_at", *lot_fields) for lot in account.expiring_soon
            ],
        },
        "history": [
            _plain(
                x,
                "entry_id",
                "at",
                "kind",
                "points",
                "pending_points",
                "available_points",
                *lot_fields,
            )
            for x in _all_history(ctx, member_id)
        ],
        "sign_ins": [_plain(s, "created_at", "last_seen_at", "ended_at") for s in sessions],
    }


CSV_COLUMNS = ("category", "at", "item", "value", "merchant_id", "order_ref", "rule_version")


def export_csv(data: dict[str, Any], more: Iterable[Sequence[Any]] = ()) -> str:
    """The same copy as one flat table (a spreadsheet opens it): one row per fact. ``more``:
    rows of ``CSV_COLUMNS`` from the layers above (the member's referral data)."""
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(CSV_COLUMNS)
    w.writerow(["profile", data["enrolled_at"], "member_id", data["member_id"], "", "", ""])
    w.writerow(["profile", data["enrolled_at"], "phone", data["phone"], "", "", ""])
    for c in data["consents"]:
        w.writerow(["consent", c["at"], c["purpose"], int(c["granted"]), "", "", ""])
    for a in data["privacy_notices_acknowledged"]:
        w.writerow(["privacy_notice", a["at"], "acknowledged", a["policy_version"], "", "", ""])
    b = data["balance"]
    for name in ("available", "pending", "debt"):
        w.writerow(["balance", data["exported_at"], name, b[name], "", "", ""])
    for x in data["history"]:
        w.writerow(
            [
                "history",
                x["at"],
                x["kind"],
                x["points"],
                x["merchant_id"] or "",
                x["order_ref"] or "",
                x["rule_version"] or "",
            ]
        )
    for s in data["sign_ins"]:
        w.writerow(["sign_in", s["created_at"], "ended_at", s["ended_at"] or "", "", "", ""])
    w.writerows(more)
    return out.getvalue()


# -- erasure (art 47) ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Erasure:
    member_id: str
    at: datetime
    forfeited_points: int
    record_id: str


def _erase_payee(conn: Connection, member_id: str) -> None:
    """A payee's payout account goes; its sealed real name and ID number stay only if tax was
    withheld from a payment to it: the withholding records (扣缴申报, 税收征收管理法实施细则
    art 29: kept 10 years) must name the person. A payee never paid is deleted whole."""
    lines = t.referral_payout_lines.c
    paid = conn.execute(
        select(func.count())
        .select_from(t.referral_payout_lines)
        .where(lines.member_id == member_id, lines.state == "succeeded")
    ).scalar_one()
    p = t.payees.c
    if paid:
        conn.execute(
            update(t.payees)
            .where(p.member_id == member_id)
            .values(account_sealed="", account_hint="(erased)", consent_version=None)
        )
    else:
        conn.execute(delete(t.payees).where(p.member_id == member_id))


def erase(ctx: Context, member_id: str, now: datetime, *, forfeit: bool) -> Erasure:
    """Erase the member's personal data, keeping the journal and balances intact."""
    account = members.account(ctx, member_id, now)  # MemberNotFound once erased
    if account.pending > 0:
        last = max(lot.release_at for lot in account.pending_lots)
        raise PointsPending(
            f"仍有待发放积分，请于 {last:%Y-%m-%d} 之后再申请 / points are still pending until "
            f"{last:%Y-%m-%d}",
            points=account.pending,
            release_at=last.date().isoformat(),
        )
    if account.available > 0 and not forfeit:
        raise PointsOutstanding(
            f"账户仍有 {account.available} 积分，须确认放弃 / {account.available} points left: "
            "confirm giving them up",
            points=account.available,
        )

    def work(conn: Connection) -> Erasure:
        m = t.members.c
        row = conn.execute(
            select(t.members).where(m.member_id == member_id).with_for_update()
        ).first()
        if row is None:
            raise MemberNotFound("没有这个会员 / no such member")
        if row.erased_at is not None:
            raise MemberErased("该会员的个人信息已删除 / this member was erased")
        forget_phone(conn, row.phone_lookup)
        conn.execute(
            update(t.members)
            .where(m.member_id == member_id)
            .values(phone_lookup="x" + secrets.token_hex(31), phone_sealed="", erased_at=now)
        )
        for table in (t.consents, t.privacy_acks, t.redemption_codes):
            conn.execute(delete(table).where(table.c.member_id == member_id))
        _erase_payee(conn, member_id)
        s = t.web_sessions.c
        conn.execute(
            update(t.web_sessions)
            .where(s.member_id == member_id, s.ended_at.is_(None))
            .values(ended_at=now)
        )
        a = t.audit_records.c
        conn.execute(
            update(t.audit_records)
            .where(a.subject == member_id, a.query.like("phone %"))
            .values(query="phone (erased)")
        )
        record_id = ordered_id("a")
        conn.execute(
            t.audit_records.insert().values(
                record_id=record_id,
                at=now,
                actor="member",
                action=ERASED,
                query=f"member_id {member_id}",
                subject=member_id,
                reason=f"member's request (PIPL art 47); points given up: {account.available}",
            )
        )
        return Erasure(member_id, now, account.available, record_id)

    return ctx.atomic(None, work)
