"""The reserve and the liability over time: the figures each closed business day ended with.

Closing a day (``jifen.jobs``) checks the reserve against the value of the outstanding points
and keeps both in the day's ``job_runs`` row of the closing job. Those rows are the history: no
table of its own, and nothing recomputed, so the public chart shows exactly what each day's
close found (``reserve_ok`` in the job's result), and a day that was never closed has no point.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select

from jifen.app.context import Context
from jifen.settlement.service import CLOSING_JOB
from jifen.settlement.statement import ReserveStatus, coverage_text
from jifen.store import tables as t

MAX_DAYS = 366
"""How many closed days a history reads at most (the newest ones): a year is as far back as a
chart on a phone is read; the liability report and ``jifen verify`` cover the rest."""


@dataclass(frozen=True)
class DayFigures:
    """What one closed business day (Asia/Shanghai) ended with."""

    business_date: date
    reserve_fen: int
    liability_fen: int  # the value of the outstanding points at the close

    @property
    def coverage_bp(self) -> int | None:
        """reserve ÷ liability in basis points, rounded down, as ``ReserveStatus`` has it."""
        return self._status().coverage_bp

    @property
    def coverage(self) -> str:
        """The coverage as the liability report writes it (``100.00%``; ``—`` with nothing
        outstanding)."""
        return coverage_text(self._status())

    def _status(self) -> ReserveStatus:
        # coverage depends only on the reserve and the liability's value
        return ReserveStatus(self.reserve_fen, 0, self.liability_fen)


def reserve_history(ctx: Context, *, days: int = MAX_DAYS) -> list[DayFigures]:
    """The newest ``days`` closed business days, oldest first, with the reserve and liability
    each close recorded. A close recorded before those figures were kept is left out."""
    runs = t.job_runs.c
    query = (
        select(runs.business_date, runs.result)
        .where(runs.job == CLOSING_JOB)
        .order_by(runs.business_date.desc())
        .limit(max(1, min(days, MAX_DAYS)))
    )
    with ctx.engine.connect() as conn:
        rows = conn.execute(query).all()
    found = []
    for business_date, result in reversed(rows):
        figures = json.loads(result)
        if isinstance(figures.get("reserve_fen"), int) and isinstance(
            figures.get("liability_fen"), int
        ):
            found.append(
                DayFigures(
                    date.fromisoformat(business_date),
                    figures["reserve_fen"],
                    figures["liability_fen"],
                )
            )
    return found
