"""Checking the statements against the journal: every money movement on a closed business day
belongs to exactly one statement, and every statement's net was moved to clearing.

For each closed day (a ``job_runs`` row of the closing job) the statements are re-derived from
that day's movements with the same pure ``statement()`` that made them, and compared with the
stored ones. Days not yet closed are not checked: their movements will be settled when they
close. The ledger's ``verify`` knows nothing of statements; ``verify_books`` runs both. Closed days
are checked one at a time, in day order, from one stream of the journal's movements.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, select

from jifen.app.clock import business_date, day_start
from jifen.ledger import Checkpoint, Finding, Report, queries, verify
from jifen.ledger.chain import entry_id_for
from jifen.ledger.queries import MerchantMovement
from jifen.settlement.service import CLOSING_JOB, _statement, settle_key
from jifen.settlement.statement import Movement, Statement, statement
from jifen.store import tables as t

FIGURES = (
    "points_issued",
    "charges_fen",
    "points_accepted",
    "reimbursements_fen",
    "credits_fen",
    "adjustments_fen",
    "net_fen",
    "collected_fen",
    "returned_fen",
)
_DAY = timedelta(days=1)


def check_statements(engine: Engine) -> list[Finding]:
    """Findings (``statement.missing``, ``statement.extra``, ``statement.mismatch``,
    ``statement.unsettled``), each naming the merchant and the business day.

    A day at a time, in day order: the journal's movements stream in booking order, so what is
    held is one day's sums per merchant and that day's statements, however long the history."""
    findings: list[Finding] = []
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":  # one snapshot: a day closing meanwhile is whole
            conn.execution_options(isolation_level="REPEATABLE READ")
        closed = sorted(
            date.fromisoformat(d)
            for d in conn.execute(
                select(t.job_runs.c.business_date).where(t.job_runs.c.job == CLOSING_JOB)
            ).scalars()
        )
        if not closed:
            return []
        moved = _days(
            queries.merchant_movements_in_order(
                conn, day_start(closed[0]), day_start(closed[-1] + _DAY)
            )
        )
        day_moved = next(moved, None)
        for day in closed:
            while day_moved is not None and day_moved[0] < day:  # a day not closed yet
                day_moved = next(moved, None)
            day_movements: list[Movement] = []
            if day_moved is not None and day_moved[0] == day:
                day_movements, day_moved = day_moved[1], next(moved, None)
            findings += _check_day(conn, day, day_movements)
    return findings


def _days(movements: Iterator[MerchantMovement]) -> Iterator[tuple[date, list[Movement]]]:
    """Movements in booking order → each business day's, summed per merchant, kind and figure."""
    day: date | None = None
    sums: dict[tuple[str, str, str], int] = defaultdict(int)
    for m in movements:
        booked = business_date(m.at)
        if booked != day:
            if day is not None:
                yield day, _movements(sums)
            day, sums = booked, defaultdict(int)
        for figure in ("fen", "points_accepted", "points_issued"):
            if getattr(m, figure):
                sums[m.merchant_id, m.kind, figure] += getattr(m, figure)
    if day is not None:
        yield day, _movements(sums)


def _movements(sums: dict[tuple[str, str, str], int]) -> list[Movement]:
    return [
        Movement(merchant_id, kind, **{figure: amount})
        for (merchant_id, kind, figure), amount in sorted(sums.items())
    ]


def _check_day(conn: Connection, day: date, day_movements: list[Movement]) -> list[Finding]:
    """One closed day: its statements re-derived and compared with the stored ones."""
    stored = {
        s.merchant_id: s
        for s in map(
            _statement,
            conn.execute(
                select(t.statements).where(t.statements.c.business_date == day.isoformat())
            ),
        )
    }
    settled = queries.settled_fen(conn, [s.entry_id for s in stored.values() if s.entry_id])
    derived = _statements(day, day_movements)
    findings: list[Finding] = []
    for merchant_id in sorted(set(derived) | set(stored)):
        findings += _compare(day, merchant_id, stored.get(merchant_id),
                             derived.get(merchant_id), settled)  # fmt: skip
    return findings


def _statements(day: date, day_movements: list[Movement]) -> dict[str, Statement]:
    by_merchant: dict[str, list[Movement]] = defaultdict(list)
    for m in day_movements:
        by_merchant[m.merchant_id].append(m)
    return {m: statement(m, day, moved) for m, moved in by_merchant.items()}


def _compare(
    day: date,
    merchant_id: str,
    stored: Statement | None,
    derived: Statement | None,
    settled: dict[str, int],
) -> list[Finding]:
    who = f"merchant {merchant_id}, business day {day.isoformat()}"
    if stored is None:
        assert derived is not None
        return [
            Finding(
                "statement.missing",
                f"{who}: money moved on a closed day but no statement carries it "
                f"(net {derived.net_fen} fen)",
            )
        ]
    if derived is None:
        return [Finding("statement.extra", f"{who}: a statement but no movement in the journal")]
    findings = []
    differ = [
        f"{name} stored {getattr(stored, name)}, journal {getattr(derived, name)}"
        for name in FIGURES
        if getattr(stored, name) != getattr(derived, name)
    ]
    if differ:
        findings.append(Finding("statement.mismatch", f"{who}: " + "; ".join(differ)))
    expected = entry_id_for(settle_key(day, merchant_id)) if stored.net_fen else None
    if stored.entry_id != expected or settled.get(expected or "", 0) != stored.net_fen:
        findings.append(
            Finding(
                "statement.unsettled",
                f"{who}: net {stored.net_fen} fen, but settlement entry {stored.entry_id} moved "
                f"{settled.get(stored.entry_id or '', 0)} fen to clearing",
                entry_id=stored.entry_id,
            )
        )
    return findings


def verify_books(engine: Engine, *, resume: Checkpoint | None = None, **options: Any) -> Report:
    """``jifen verify``: the ledger's checks and the statements', in one report (``resume`` and
    the page sizes, ``options``, go to the ledger's ``verify``). Statements are always checked
    whole: a checkpoint covers the hash chain, not the days."""
    report = verify(engine, resume=resume, **options)
    for finding in check_statements(engine):
        report.add(finding)
    return report
