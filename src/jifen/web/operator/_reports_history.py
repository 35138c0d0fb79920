"""The points and the reserve per business day, derived from the journal (the operator's
dashboards, docs/consoles.md).

Nothing stores a day-by-day history of outstanding points or of the reserve: the liabilities
report (``jifen.settlement.liabilities``) is a snapshot of now. So the history is re-derived from
the journal itself, read in chain order through ``jifen.ledger.queries.journal`` a page at a
time, exactly as an auditor would: every figure is a sum of legs on the accounts that carry it.

- issued: what left ``system:issuance`` (the source of every point) that day;
- redeemed: what merchants' ``accepted`` accounts took at checkout;
- expired: what reached ``system:expired``; clawed back: what reached ``system:clawback``;
- outstanding at the end of a day: the points on members' accounts that belong to a lot
  (pending + available), as the liabilities report counts them (a debt being repaid is not a
  point outstanding);
- their value: each of those points at the value its lot was issued with, read from the lot's
  own earn entry (the reserve leg ÷ the points), so the required coverage is the journal's own;
- the reserve at the end of a day: the balance of ``system:reserve``;
- the breakage rate to date: expired ÷ (expired + redeemed), with the liabilities report's own
  rounding (``jifen.settlement.breakage_rate_bp``).

The read is one pass over the journal per page view (pages of ``PAGE`` entries): fine for an
alliance's console; a store with tens of millions of entries would want the days' closes to keep
these figures instead (noted in docs/consoles.md).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import Connection

from jifen.app.clock import business_date
from jifen.app.context import Context
from jifen.ledger import queries
from jifen.ledger.model import (
    CLAWBACK,
    EXPIRED,
    ISSUANCE,
    RESERVE,
    accepted_account,
    member_account_kind,
    owner_of,
)
from jifen.ledger.queries import JournalEntry
from jifen.settlement import breakage_rate_bp

PAGE = 1_000
FIGURES = ("issued", "redeemed", "expired", "clawed_back", "outstanding", "value", "reserve")


@dataclass(frozen=True)
class DayFigures:
    """One business day: its flows (points), and where it ended (points, fen)."""

    day: date
    issued: int
    redeemed: int
    expired: int
    clawed_back: int
    outstanding: int  # points pending or available at the end of the day
    liability_fen: int  # their value: the coverage the reserve must hold
    reserve_fen: int  # the reserve at the end of the day
    breakage_bp: int  # expired ÷ (expired + redeemed) up to the end of the day

    @property
    def covered(self) -> bool:
        return self.reserve_fen >= self.liability_fen

    @property
    def coverage_bp(self) -> int | None:
        """reserve ÷ liability, rounded down, as ``ReserveStatus.coverage_bp`` (None: nothing
        outstanding)."""
        return None if self.liability_fen == 0 else self.reserve_fen * 10_000 // self.liability_fen


def _entries(conn: Connection) -> Iterator[JournalEntry]:
    after: tuple[int, int, int] | None = None
    while True:
        page = queries.journal(conn, chain_id=None, after=after, limit=PAGE)
        yield from page
        if len(page) < PAGE:
            return
        last = page[-1]
        after = (last.chain_id, last.height, last.seq)


class _Sums:
    """Per-day sums of every figure, and per day and lot the member legs (valued at the end)."""

    def __init__(self) -> None:
        self.by_day: dict[date, dict[str, int]] = defaultdict(lambda: dict.fromkeys(FIGURES, 0))
        self.lot_points: dict[tuple[date, str], int] = defaultdict(int)
        self.lot_value: dict[str, int] = {}  # fen per point, from the lot's earn entry

    def add(self, entry: JournalEntry) -> None:
        day = self.by_day[business_date(entry.at)]
        reserve_leg = issued = 0
        for account, asset, amount, lot_id in entry.legs:
            if account == ISSUANCE and asset == "POINTS":
                day["issued"] -= amount
                issued -= amount
            elif account == EXPIRED:
                day["expired"] += amount
            elif account == CLAWBACK:
                day["clawed_back"] += amount
            elif account == RESERVE and asset == "CNY":
                day["reserve"] += amount
                reserve_leg += amount
            elif _accepted(account):
                day["redeemed"] += amount
            elif member_account_kind(account) is not None and lot_id is not None:
                day["outstanding"] += amount
                self.lot_points[(business_date(entry.at), lot_id)] += amount
        if entry.kind == "earn" and issued > 0:
            self.lot_value[entry.entry_id] = reserve_leg // issued

    def value_by_day(self) -> dict[date, int]:
        value: dict[date, int] = defaultdict(int)
        for (day, lot_id), points in self.lot_points.items():
            value[day] += points * self.lot_value.get(lot_id, 0)
        return value


def _accepted(account: str) -> bool:
    """A merchant's account of points it took at checkout (the ledger spells the ids)."""
    owner = owner_of(account) or ""
    return owner.startswith("merchant:") and account == accepted_account(owner.partition(":")[2])


def history(ctx: Context, first: date, last: date) -> list[DayFigures]:
    """Every business day of ``[first, last]``, oldest first (days with nothing booked too)."""
    sums = _Sums()
    with ctx.engine.connect() as conn:
        for entry in _entries(conn):
            sums.add(entry)
    value = sums.value_by_day()
    totals = dict.fromkeys(("outstanding", "value", "reserve", "expired", "redeemed"), 0)
    for day in sorted(d for d in sums.by_day if d < first):
        _carry(totals, sums.by_day[day], value.get(day, 0))
    days: list[DayFigures] = []
    day = first
    while day <= last:
        flows = sums.by_day.get(day, dict.fromkeys(FIGURES, 0))
        _carry(totals, flows, value.get(day, 0))
        days.append(
            DayFigures(
                day=day,
                issued=flows["issued"],
                redeemed=flows["redeemed"],
                expired=flows["expired"],
                clawed_back=flows["clawed_back"],
                outstanding=totals["outstanding"],
                liability_fen=totals["value"],
                reserve_fen=totals["reserve"],
                breakage_bp=breakage_rate_bp(totals["expired"], totals["redeemed"]),
            )
        )
        day += timedelta(days=1)
    return days


def _carry(totals: dict[str, int], flows: dict[str, int], value: int) -> None:
    for figure in ("outstanding", "reserve", "expired", "redeemed"):
        totals[figure] += flows[figure]
    totals["value"] += value
