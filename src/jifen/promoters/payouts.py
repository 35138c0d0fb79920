"""Payout batches: what is owed to each verified, consenting payee, less the income tax withheld,
paid through the provider's 商家转账 from the operator's own account (docs/referrals.md, payouts).

One pass (``run_payout_batch``) either follows the open batch or, when none is open, makes the
next: every accrued reward not yet in a batch, of every payable payee, one line per payee (gross =
the rewards' sum; the tax by the method in force for the month, netted against the payee's
earlier lines: ``_withholding``; net = gross − tax). The batch's number is its period and its
sequence in the period, and it is the provider's ``out_batch_no``: sending it again is the same
batch there, and no new batch is made while one is open, so a re-run resumes it and pays nobody
twice. The rewards are claimed by the batch when it is made.

What the provider answers decides each line: SUCCESS books one entry (REFERRAL_PAYABLE −gross,
TAX_WITHHELD +tax, FEE_CASH +net: the operator's account paid the net) and the line succeeds;
FAIL (or a batch the provider refused or closed) fails the line and releases its rewards to the
next batch, its tax never counted as withheld. An unreachable provider leaves the batch as it is,
to be sent or asked again next pass — the pattern of ``jifen.funds.payouts``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, and_, func, select, update

from jifen.app.context import Context
from jifen.app.paging import Page, after_cursor, check_limit, decode_cursor, encode_cursor
from jifen.funds import Funds
from jifen.funds.records import provider_number
from jifen.ledger import Asset, Leg, Post
from jifen.ledger.model import FEE_CASH, REFERRAL_PAYABLE, TAX_WITHHELD
from jifen.payments import (
    PersonTransfer,
    PersonTransferBatch,
    PersonTransferResult,
    ProviderRefused,
    ProviderUnavailable,
)
from jifen.promoters import payees
from jifen.promoters._withholding import Earlier, line_tax
from jifen.promoters.config import method_for, month_of
from jifen.store import tables as t

MAX_LINES = 1000
"""Payees in one batch (the provider's limit on a batch's details); the rest wait for the next."""
MIN_PAYOUT_FEN = 30
"""Below ¥0.30 (商家转账's smallest transfer) what is owed waits until it grows."""
NAME_FROM_FEN = 200_000
"""From ¥2,000 a transfer carries the payee's real name (encrypted); below it the name is not
sent at all (data minimisation: the openid alone pays)."""
OPEN = ("due", "processing")


@dataclass(frozen=True)
class BatchRun:
    """What one pass did: the batch it made or followed (None: nothing owed, nothing open)."""

    batch_id: str | None
    state: str | None  # due | processing | succeeded | failed
    lines_paid: int  # lines that succeeded in this pass
    lines_failed: int


def run_payout_batch(ctx: Context, funds: Funds, now: datetime) -> BatchRun:
    """Follow the open batch, or make and send the next one."""
    batch = _open_batch(ctx)
    if batch is None:
        # a pass racing this one may have made the batch meanwhile (its claims leave this one
        # nothing owed): follow that batch rather than answer "nothing to do"
        batch = ctx.atomic(None, lambda conn: _new_batch(ctx, conn, now)) or _open_batch(ctx)
        if batch is None:
            return BatchRun(None, None, 0, 0)
    return _advance(ctx, funds, batch, now)


def _open_batch(ctx: Context) -> str | None:
    b = t.referral_payout_batches.c
    with ctx.engine.connect() as conn:
        return conn.execute(
            select(b.batch_id).where(b.state.in_(OPEN)).order_by(b.created_at).limit(1)
        ).scalar_one_or_none()


def _owed(conn: Connection) -> dict[str, list[tuple[str, int]]]:
    """Accrued rewards in no batch, of payable payees: member → [(reward_id, fen)]."""
    r, p = t.referral_rewards.c, t.payees.c
    rows = conn.execute(
        select(r.promoter_id, r.reward_id, r.fen)
        .join(t.payees, p.member_id == r.promoter_id)
        .where(r.state == "accrued", r.batch_id.is_(None), r.fen > 0)
        .where(p.verified_at.is_not(None), p.consent_version == payees.PAYEE_CONSENT_VERSION)
        .where(p.account_sealed != "")
        .order_by(r.promoter_id, r.reward_id)
        .with_for_update(of=t.referral_rewards)  # a racing pass waits, then finds them claimed
    ).all()
    owed: dict[str, list[tuple[str, int]]] = {}
    for promoter, reward, fen in rows:
        owed.setdefault(promoter, []).append((reward, int(fen)))
    return owed


def _earlier(conn: Connection, member_id: str, method: str, year: str) -> list[Earlier]:
    c = t.referral_payout_lines.c
    rows = conn.execute(
        select(c.tax_month, c.gross_fen, c.tax_fen)
        .where(c.member_id == member_id, c.method == method, c.state == "succeeded")
        .where(c.tax_month.like(f"{year}-%"))
        .order_by(c.tax_month, c.finished_at)
    ).all()
    return [Earlier(m, int(g), int(x)) for m, g, x in rows]


def _new_batch(ctx: Context, conn: Connection, now: datetime) -> str | None:
    owed = {m: rs for m, rs in _owed(conn).items() if sum(f for _, f in rs) >= MIN_PAYOUT_FEN}
    if not owed:
        return None
    period = month_of(now)
    method = method_for(ctx, period, conn=conn)
    b = t.referral_payout_batches.c
    seq = conn.execute(
        select(func.count()).select_from(t.referral_payout_batches).where(b.period == period)
    ).scalar_one()
    batch_id = f"RP{period.replace('-', '')}N{int(seq) + 1:04d}"
    lines = []
    for member_id in sorted(owed)[:MAX_LINES]:
        gross = sum(f for _, f in owed[member_id])
        tax = line_tax(method, period, gross, _earlier(conn, member_id, method, period[:4]))
        lines.append(
            {
                "batch_id": batch_id, "member_id": member_id,
                "out_detail_no": provider_number("RD", batch_id, member_id),
                "tax_month": period, "method": method, "gross_fen": gross,
                "taxable_fen": tax.taxable_fen, "rate_bp": tax.rate_bp,
                "quick_deduction_fen": tax.quick_deduction_fen, "tax_fen": tax.tax_fen,
                "net_fen": gross - tax.tax_fen, "state": "due", "detail_id": None,
                "entry_id": None, "finished_at": None,
            }
        )  # fmt: skip
        rewards = [rid for rid, _ in owed[member_id]]
        claimed = conn.execute(
            update(t.referral_rewards)
            .where(t.referral_rewards.c.reward_id.in_(rewards))
            .where(t.referral_rewards.c.batch_id.is_(None))
            .values(batch_id=batch_id)
        ).rowcount
        assert claimed == len(rewards), "a reward was claimed by another batch meanwhile"
    conn.execute(
        t.referral_payout_batches.insert().values(
            batch_id=batch_id, period=period, method=method, state="due",
            total_gross_fen=sum(x["gross_fen"] for x in lines),
            total_tax_fen=sum(x["tax_fen"] for x in lines),
            total_net_fen=sum(x["net_fen"] for x in lines),
            provider_batch_id=None, attempts=0, last_error=None, created_at=now, finished_at=None,
        )
    )  # fmt: skip
    conn.execute(t.referral_payout_lines.insert(), lines)
    return batch_id


def _lines(ctx: Context, batch_id: str) -> list[dict[str, object]]:
    c = t.referral_payout_lines.c
    with ctx.engine.connect() as conn:
        return [
            dict(r._mapping)
            for r in conn.execute(
                select(t.referral_payout_lines).where(c.batch_id == batch_id).order_by(c.member_id)
            )
        ]


def _request(ctx: Context, batch_id: str, period: str) -> PersonTransferBatch:
    details = []
    for line in _lines(ctx, batch_id):
        if line["state"] not in OPEN:
            continue
        who = payees.identity(ctx, str(line["member_id"]))
        net = int(str(line["net_fen"]))
        details.append(
            PersonTransfer(
                out_detail_no=str(line["out_detail_no"]),
                openid=who.account,
                fen=net,
                remark=f"推荐奖励 {period} 已代扣个税",
                user_name=who.real_name if net >= NAME_FROM_FEN else None,
            )
        )
    return PersonTransferBatch(
        out_batch_no=batch_id,
        name=f"推荐奖励 {period}",
        remark=f"推荐奖励佣金 {period}",
        details=tuple(details),
    )


def _advance(ctx: Context, funds: Funds, batch_id: str, now: datetime) -> BatchRun:
    b = t.referral_payout_batches.c
    with ctx.engine.connect() as conn:
        batch = conn.execute(select(t.referral_payout_batches).where(b.batch_id == batch_id)).one()
    try:
        if batch.state == "due":
            result = funds.provider.transfer_to_persons(_request(ctx, batch_id, batch.period))
            _set_batch(ctx, batch_id, state="processing", provider_batch_id=result.batch_id,
                       attempts=batch.attempts + 1, last_error=None)  # fmt: skip
            return BatchRun(batch_id, "processing", 0, 0)
        result = funds.provider.query_person_transfers(batch_id)
    except ProviderUnavailable as exc:
        _set_batch(ctx, batch_id, attempts=batch.attempts + 1, last_error=str(exc))
        return BatchRun(batch_id, batch.state, 0, 0)
    except ProviderRefused as exc:
        if batch.state != "due":
            _set_batch(ctx, batch_id, attempts=batch.attempts + 1, last_error=str(exc))
            return BatchRun(batch_id, batch.state, 0, 0)
        failed = _close(ctx, batch_id, str(exc), now)
        return BatchRun(batch_id, "failed", 0, failed)
    return _apply(ctx, batch_id, result, now)


def _set_batch(ctx: Context, batch_id: str, **values: object) -> None:
    with ctx.writer.begin() as conn:
        conn.execute(
            update(t.referral_payout_batches)
            .where(t.referral_payout_batches.c.batch_id == batch_id)
            .values(**values)
        )


def _apply(ctx: Context, batch_id: str, result: PersonTransferResult, now: datetime) -> BatchRun:
    details = {d.out_detail_no: d for d in result.details}
    paid = failed = 0
    for line in _lines(ctx, batch_id):
        if line["state"] not in OPEN:
            continue
        detail = details.get(str(line["out_detail_no"]))
        if detail is not None and detail.state == "SUCCESS":
            paid += _finish_line(ctx, line, "succeeded", detail.detail_id, now)
        elif (detail is not None and detail.state == "FAIL") or result.state == "CLOSED":
            reason = detail.fail_reason if detail is not None else None
            failed += _finish_line(ctx, line, "failed", reason or result.state, now)
    if result.state not in ("FINISHED", "CLOSED"):
        return BatchRun(batch_id, "processing", paid, failed)
    left = [x for x in _lines(ctx, batch_id) if x["state"] in OPEN]
    if left:  # finished, yet a detail not answered: ask again next pass
        return BatchRun(batch_id, "processing", paid, failed)
    any_paid = any(x["state"] == "succeeded" for x in _lines(ctx, batch_id))
    state = "succeeded" if any_paid else "failed"
    _set_batch(ctx, batch_id, state=state, finished_at=now)
    return BatchRun(batch_id, state, paid, failed)


def _finish_line(
    ctx: Context, line: dict[str, object], state: str, detail: str | None, now: datetime
) -> int:
    """One line's outcome in one unit of work: the line, its entry or its rewards released."""
    batch_id, member_id = str(line["batch_id"]), str(line["member_id"])
    c = t.referral_payout_lines.c

    def work(conn: Connection) -> int:
        won = conn.execute(
            update(t.referral_payout_lines)
            .where(c.batch_id == batch_id, c.member_id == member_id, c.state.in_(OPEN))
            .values(
                state=state, finished_at=now, detail_id=detail if state == "succeeded" else None
            )
        ).rowcount
        if not won:
            return 0
        if state == "failed":
            r = t.referral_rewards.c
            conn.execute(
                update(t.referral_rewards)
                .where(and_(r.batch_id == batch_id, r.promoter_id == member_id))
                .values(batch_id=None)
            )
            return 1
        gross, tax, net = (int(str(line[k])) for k in ("gross_fen", "tax_fen", "net_fen"))
        legs = [Leg(REFERRAL_PAYABLE, Asset.CNY, -gross), Leg(FEE_CASH, Asset.CNY, net)]
        if tax:
            legs.insert(1, Leg(TAX_WITHHELD, Asset.CNY, tax))
        receipt = ctx.ledger.submit(
            Post(
                key=f"referral-payout:{batch_id}:{member_id}",
                legs=tuple(legs),
                memo=f"推荐奖励发放 referral payout {batch_id} {detail or ''}".strip(),
            ),
            now,
            conn=conn,
        )
        conn.execute(
            update(t.referral_payout_lines)
            .where(c.batch_id == batch_id, c.member_id == member_id)
            .values(entry_id=receipt.entry_id)
        )
        return 1

    return ctx.atomic(None, work)


def _close(ctx: Context, batch_id: str, error: str, now: datetime) -> int:
    """The provider refused the batch: every line fails, its rewards go to the next batch."""
    failed = sum(_finish_line(ctx, line, "failed", None, now) for line in _lines(ctx, batch_id))
    _set_batch(ctx, batch_id, state="failed", last_error=error, finished_at=now)
    return failed


@dataclass(frozen=True)
class PayoutBatch:
    batch_id: str
    period: str
    method: str
    state: str
    total_gross_fen: int
    total_tax_fen: int
    total_net_fen: int
    provider_batch_id: str | None
    attempts: int
    last_error: str | None
    created_at: datetime
    finished_at: datetime | None
    lines: int


def list_batches(ctx: Context, *, cursor: str | None, limit: int) -> Page[PayoutBatch]:
    """Newest first (the numbers sort as they were made: period, then sequence)."""
    b, c = t.referral_payout_batches.c, t.referral_payout_lines.c
    lines = (
        select(func.count())
        .where(c.batch_id == b.batch_id)
        .correlate(t.referral_payout_batches)
        .scalar_subquery()
    )
    query = (
        select(t.referral_payout_batches, lines.label("lines"))
        .where(after_cursor([b.batch_id], decode_cursor(cursor, (str,)), newest_first=True))
        .order_by(b.batch_id.desc())
        .limit(check_limit(limit) + 1)
    )
    with ctx.engine.connect() as conn:
        rows = [PayoutBatch(**r._mapping) for r in conn.execute(query)]
    last = rows[limit - 1] if len(rows) > limit else None
    return Page(rows[:limit], encode_cursor([last.batch_id]) if last else None)
