"""The referral graph (brief §8): who referred a member, who recruited a merchant.

A member has at most one referrer (a promoter: another member), bound once, at the first scan
of a promoter's code or the first shared link they open; binding again to the same promoter is
a no-op answer, to another is refused (``referral.already_bound``). Only the operator changes a
referrer, with a reason, and the change is an audit record (``audit_records``) in the same unit
of work. A merchant may have one recruiter, set and changed by the operator the same way; the
recruiter's share of the merchant's orders counts its months from ``bound_at``.

No cycles: a member cannot refer themself, nor be referred by anyone their own chain of
referrals reaches (A→B→C, then C cannot refer A). Every change to the graph takes one lock (the
``settings`` row ``referral.graph``) before it reads the chain, so two binds racing in opposite
directions are serialised and the second sees the first: the graph stays a forest.

Every member has a **promoter code**, ``<member id>-<8 hex>``: the id with a MAC under the store's
secret, so it is stable, needs no table, and cannot be forged for a member from their id alone.
"""

from __future__ import annotations

import dataclasses
import hmac
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import Connection, select

from jifen.alliance.members import require_member
from jifen.alliance.merchants import get_merchant
from jifen.app.context import Context
from jifen.app.paging import ordered_id
from jifen.errors import InvalidRequest
from jifen.promoters.errors import AlreadyBound, PromoterNotFound, ReferralCycle
from jifen.store import insert_missing
from jifen.store import tables as t

__all__ = [
    "Binding",
    "RecruiterBinding",
    "bind_by_code",
    "bind_recruiter",
    "bind_referrer",
    "chain",
    "change_referrer",
    "promoter_code",
    "promoter_of_code",
    "recruiter_of",
    "referrer_of",
    "share_path",
]

Source = Literal["scan", "link"]
SOURCES = ("scan", "link")
CODE_PURPOSE = "promoter-code"
CODE_MAC_CHARS = 8
GRAPH_LOCK = "referral.graph"
REFERRER_CHANGE = "referral.referrer"
RECRUITER_CHANGE = "referral.recruiter"
MAX_REASON_CHARS = 500
MAX_WALK = 100_000
"""The longest chain of referrals a cycle check walks; the graph is a forest, so a longer walk
means the invariant broke, and the check stops loudly instead of looping."""


@dataclass(frozen=True)
class Binding:
    """A member's referrer. ``replayed``: the bind asked for what was bound already."""

    member_id: str
    promoter_id: str
    source: str  # scan | link | operator
    bound_at: datetime
    changed_at: datetime | None
    replayed: bool = False


@dataclass(frozen=True)
class RecruiterBinding:
    merchant_id: str
    promoter_id: str
    bound_at: datetime  # the recruiter's months count from here
    changed_at: datetime | None
    replayed: bool = False


# -- promoter codes --------------------------------------------------------------------------------


def _mac(ctx: Context, member_id: str) -> str:
    return ctx.secrets.mac(CODE_PURPOSE, member_id)[:CODE_MAC_CHARS]


def promoter_code(ctx: Context, member_id: str) -> str:
    """The member's promoter code: what their QR code and share link carry."""
    return f"{member_id}-{_mac(ctx, member_id)}"


def share_path(code: str) -> str:
    """The path of a member's share link (the member console opens it and binds the reader)."""
    return f"/r/{code}"


def promoter_of_code(ctx: Context, code: str, *, conn: Connection | None = None) -> str:
    """The live member a promoter code names, else ``referral.promoter_not_found``."""
    member_id, _, mac = (code or "").rpartition("-")
    if not member_id or not hmac.compare_digest(mac, _mac(ctx, member_id)):
        raise PromoterNotFound("推荐码无效 / no promoter has this code", detail_key="code")
    with ctx.reading(conn) as c:
        _require_promoter(c, member_id)
    return member_id


# -- reading ---------------------------------------------------------------------------------------


def _require_promoter(conn: Connection, promoter_id: str) -> None:
    """A promoter is a live member: an erased one promotes nobody."""
    m = t.members.c
    found = conn.execute(
        select(m.member_id).where(m.member_id == promoter_id, m.erased_at.is_(None))
    ).first()
    if found is None:
        raise PromoterNotFound(
            "推荐人不是有效会员 / the promoter is no member", promoter_id=promoter_id
        )


def _binding(conn: Connection, member_id: str) -> Binding | None:
    row = conn.execute(
        select(t.referral_links).where(t.referral_links.c.member_id == member_id)
    ).first()
    return None if row is None else Binding(**row._mapping)


def referrer_of(ctx: Context, member_id: str, *, conn: Connection | None = None) -> Binding | None:
    """The member's referrer, if any."""
    with ctx.reading(conn) as c:
        return _binding(c, member_id)


def chain(conn: Connection, member_id: str, depth: int) -> list[str]:
    """The member's referrers upward, nearest first, at most ``depth``: [direct, indirect]."""
    found: list[str] = []
    at = member_id
    c = t.referral_links.c
    while len(found) < depth:
        up = conn.execute(select(c.promoter_id).where(c.member_id == at)).scalar_one_or_none()
        if up is None or up == member_id or up in found:
            break  # the top of the chain (or a cycle, which the binds refuse)
        found.append(up)
        at = up
    return found


def _lock_graph(conn: Connection) -> None:
    """Serialise every change to the graph (see the module docstring)."""
    insert_missing(conn, t.settings, [{"name": GRAPH_LOCK, "value": "lock"}])
    conn.execute(
        select(t.settings.c.name).where(t.settings.c.name == GRAPH_LOCK).with_for_update()
    ).one()


def _refuse_cycle(conn: Connection, member_id: str, promoter_id: str) -> None:
    """Refuse ``promoter_id`` as ``member_id``'s referrer if the promoter is the member or the
    promoter's own chain of referrers reaches the member."""
    if promoter_id == member_id:
        raise ReferralCycle("不能推荐自己 / a member cannot refer themself", detail_key="self")
    c = t.referral_links.c
    at: str | None = promoter_id
    for _ in range(MAX_WALK):
        at = conn.execute(select(c.promoter_id).where(c.member_id == at)).scalar_one_or_none()
        if at is None:
            return
        if at == member_id:
            raise ReferralCycle(
                "推荐关系不能成环 / the promoter was referred, directly or not, by this member",
                promoter_id=promoter_id,
            )
    raise AssertionError("the referral graph has a cycle")


def _check_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not 1 <= len(reason) <= MAX_REASON_CHARS:
        raise InvalidRequest(
            "须说明理由（1-500 字）/ a reason of 1-500 characters is required", field="reason"
        )
    return reason


def _audit(
    conn: Connection, *, action: str, subject: str, old: str | None, new: str, reason: str,
    actor: str, now: datetime,
) -> None:  # fmt: skip
    conn.execute(
        t.audit_records.insert().values(
            record_id=ordered_id("a"),
            at=now,
            actor=actor[:64],
            action=action,
            query=f"promoter {old or '-'} -> {new}",
            subject=subject,
            reason=reason,
        )
    )


# -- members' referrers ----------------------------------------------------------------------------


def bind_referrer(
    ctx: Context,
    member_id: str,
    promoter_id: str,
    source: Source = "scan",
    *,
    conn: Connection | None = None,
) -> Binding:
    """Bind the member's referrer once: the same promoter again answers the binding
    (``replayed``); another promoter is ``referral.already_bound``; self or a cycle is
    ``referral.cycle``."""
    if source not in SOURCES:
        raise InvalidRequest("来源须为 scan 或 link / source is scan or link", field="source")

    def work(tx: Connection) -> Binding:
        require_member(ctx, member_id, conn=tx)
        _require_promoter(tx, promoter_id)
        _lock_graph(tx)
        held = _binding(tx, member_id)
        if held is not None:
            if held.promoter_id == promoter_id:
                return dataclasses.replace(held, replayed=True)
            raise AlreadyBound(
                "已绑定推荐人，只能由运营方更改 / a referrer is bound already; only the operator "
                "changes it",
                promoter_id=held.promoter_id,
            )
        _refuse_cycle(tx, member_id, promoter_id)
        bound = Binding(member_id, promoter_id, source, ctx.clock.now(), None)
        tx.execute(
            t.referral_links.insert().values(
                member_id=member_id, promoter_id=promoter_id, source=source,
                bound_at=bound.bound_at, changed_at=None,
            )
        )  # fmt: skip
        return bound

    return ctx.atomic(conn, work)


def bind_by_code(
    ctx: Context,
    member_id: str,
    code: str,
    source: Source = "scan",
    *,
    conn: Connection | None = None,
) -> Binding:
    """``bind_referrer`` to the promoter whose code the member scanned or whose link they
    opened."""

    def work(tx: Connection) -> Binding:
        return bind_referrer(ctx, member_id, promoter_of_code(ctx, code, conn=tx), source, conn=tx)

    return ctx.atomic(conn, work)


def change_referrer(
    ctx: Context,
    member_id: str,
    promoter_id: str,
    reason: str,
    actor: str,
    *,
    conn: Connection | None = None,
) -> Binding:
    """The operator sets or changes a member's referrer, with a reason: an audit record of the
    old and the new promoter, in the same unit of work. Cycles are refused as in a bind; the
    same promoter again changes nothing and records nothing."""
    reason = _check_reason(reason)

    def work(tx: Connection) -> Binding:
        require_member(ctx, member_id, conn=tx)
        _require_promoter(tx, promoter_id)
        _lock_graph(tx)
        held = _binding(tx, member_id)
        if held is not None and held.promoter_id == promoter_id:
            return dataclasses.replace(held, replayed=True)
        _refuse_cycle(tx, member_id, promoter_id)
        now = ctx.clock.now()
        links = t.referral_links
        if held is None:
            tx.execute(
                links.insert().values(
                    member_id=member_id, promoter_id=promoter_id, source="operator",
                    bound_at=now, changed_at=now,
                )
            )  # fmt: skip
        else:
            tx.execute(
                links.update()
                .where(links.c.member_id == member_id)
                .values(promoter_id=promoter_id, changed_at=now)
            )
        _audit(tx, action=REFERRER_CHANGE, subject=member_id, reason=reason, actor=actor, now=now,
               old=held.promoter_id if held else None, new=promoter_id)  # fmt: skip
        found = _binding(tx, member_id)
        assert found is not None
        return found

    return ctx.atomic(conn, work)


# -- merchants' recruiters -------------------------------------------------------------------------


def _recruiter(conn: Connection, merchant_id: str) -> RecruiterBinding | None:
    c = t.merchant_recruiters.c
    row = conn.execute(select(t.merchant_recruiters).where(c.merchant_id == merchant_id)).first()
    return None if row is None else RecruiterBinding(**row._mapping)


def recruiter_of(
    ctx: Context, merchant_id: str, *, conn: Connection | None = None
) -> RecruiterBinding | None:
    with ctx.reading(conn) as c:
        return _recruiter(c, merchant_id)


def bind_recruiter(
    ctx: Context,
    merchant_id: str,
    promoter_id: str,
    *,
    reason: str,
    actor: str,
    conn: Connection | None = None,
) -> RecruiterBinding:
    """The operator sets (at onboarding or later) or changes a merchant's recruiter, with a
    reason and an audit record. A change restarts the months (``bound_at``): the new recruiter
    shares the orders of the months after the change, never the old recruiter's. The same
    promoter again changes nothing."""
    reason = _check_reason(reason)

    def work(tx: Connection) -> RecruiterBinding:
        get_merchant(ctx, merchant_id, conn=tx)
        _require_promoter(tx, promoter_id)
        held = _recruiter(tx, merchant_id)
        if held is not None and held.promoter_id == promoter_id:
            return dataclasses.replace(held, replayed=True)
        now = ctx.clock.now()
        table = t.merchant_recruiters
        if held is None:
            tx.execute(table.insert().values(merchant_id=merchant_id, promoter_id=promoter_id,
                                             bound_at=now, changed_at=None))  # fmt: skip
        else:
            tx.execute(
                table.update()
                .where(table.c.merchant_id == merchant_id)
                .values(promoter_id=promoter_id, bound_at=now, changed_at=now)
            )
        _audit(tx, action=RECRUITER_CHANGE, subject=merchant_id, reason=reason, actor=actor,
               now=now, old=held.promoter_id if held else None, new=promoter_id)  # fmt: skip
        found = _recruiter(tx, merchant_id)
        assert found is not None
        return found

    return ctx.atomic(conn, work)
