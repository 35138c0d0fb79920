"""Checking the statements against the journal: every money movement on a closed business day
belongs to exactly one statement, and every statement's net was moved to clearing.

For each closed day (a ``job_runs`` row of the closing job) the statements are re-derived from
that day's movements with the same pure ``statement()`` that made them, and compared with the
stored ones. Days not yet closed are not checked: their movements will be settled when they
close. The ledger's ``verify`` knows nothing of statements; ``verify_books`` runs both.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta

from sqlalchemy import Engine, select

from jifen.app.clock import day_start
from jifen.ledger import Finding, Report, queries, verify
from jifen.ledger.chain import entry_id_for
from jifen.settlement.service import (
    CLOSING_JOB,
    _statement,
    movements_by_day,
    settle_key,
)
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
    ``statement.unsettled``), each naming the merchant and the business day."""
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
        stored: dict[tuple[date, str], Statement] = {}
        for row in conn.execute(
            select(t.statements).where(t.statements.c.business_date.in_([str(d) for d in closed]))
        ):
            s = _statement(row)
            stored[s.business_date, s.merchant_id] = s
        by_day = movements_by_day(conn, day_start(closed[0]), day_start(closed[-1] + _DAY))
        settled = queries.settled_fen(conn)
    findings: list[Finding] = []
    for day in closed:
        derived = _statements(day, by_day.get(day, []))
        here = {m for d, m in stored if d == day}
        for merchant_id in sorted(set(derived) | here):
            findings += _compare(day, merchant_id, stored.get((day, merchant_id)),
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


def verify_books(engine: Engine) -> Report:
    """``jifen verify``: the ledger's checks and the statements', in one report."""
    report = verify(engine)
    for finding in check_statements(engine):
        report.add(finding)
    return report
