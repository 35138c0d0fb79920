"""``jifen verify`` run remotely, for an auditor (docs/auditor.md): asked for, run in the
background, its report kept.

A verification of a large store takes minutes (docs/benchmark.md), longer than an HTTP request
should wait, so asking starts a run and answers at once with its id; the run's state and, when it
is over, its report (the same as ``jifen verify --json``) are read back by id, from any worker:
runs are rows, not memory. At most one runs at a time per store: asking while one runs answers
that one. A run whose process died is ``abandoned`` once ``MAX_RUN`` has passed, and may be asked
for again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, select

from jifen.app.context import Context
from jifen.app.paging import Page, check_limit, encode_cursor, older_than, ordered_id
from jifen.ledger import Report
from jifen.settlement.audit import verify_books
from jifen.settlement.errors import VerificationNotFound
from jifen.store import tables as t

__all__ = [
    "MAX_RUN",
    "Verification",
    "get_verification",
    "list_verifications",
    "report_json",
    "run_verification",
    "start_verification",
]

MAX_RUN = timedelta(hours=6)
"""After this long a run still marked running is taken for dead (its process stopped)."""


@dataclass(frozen=True)
class Verification:
    verification_id: str
    requested_by: str
    started_at: datetime
    finished_at: datetime | None
    state: str  # running | passed | failed | abandoned
    report: dict[str, Any] | None


def report_json(report: Report) -> dict[str, Any]:
    """A verification report as plain JSON values: ``jifen verify --json`` prints the same."""
    return {
        "ok": report.ok,
        "hash_alg": report.hash_alg,
        "blocks": report.blocks,
        "entries": report.entries,
        "resumed": report.resumed,
        "rehashed_blocks": report.checked_blocks,
        "totals": report.totals,
        "lanes": {
            str(lane): {"height": tip.height, "block_hash": tip.block_hash}
            for lane, tip in sorted(report.lanes.items())
        },
        "findings": [
            {
                "code": f.code,
                "message": f.message,
                "chain_id": f.chain_id,
                "height": f.height,
                "entry_id": f.entry_id,
            }
            for f in report.findings
        ],
    }


def _view(row: Any, now: datetime) -> Verification:
    state = row.state
    if state == "running" and row.started_at + MAX_RUN <= now:
        state = "abandoned"
    return Verification(
        row.run_id, row.requested_by, row.started_at, row.finished_at, state,
        json.loads(row.report) if row.report else None,
    )  # fmt: skip


def start_verification(
    ctx: Context, requested_by: str, *, conn: Connection | None = None
) -> tuple[Verification, bool]:
    """``(the run, whether it is new)``: a new run unless one is running; the caller then runs
    it (``run_verification``) after its transaction commits."""
    now = ctx.clock.now()

    def work(tx: Connection) -> tuple[Verification, bool]:
        v = t.verification_runs.c
        running = tx.execute(
            select(t.verification_runs)
            .where(v.state == "running", v.started_at > now - MAX_RUN)
            .order_by(v.started_at.desc())
            .limit(1)
        ).first()
        if running is not None:
            return _view(running, now), False
        run_id = ordered_id("v")
        row = {"run_id": run_id, "requested_by": requested_by[:64], "started_at": now}
        tx.execute(t.verification_runs.insert().values(**row, state="running"))
        return Verification(run_id, requested_by[:64], now, None, "running", None), True

    return ctx.atomic(conn, work)


def run_verification(ctx: Context, verification_id: str) -> None:
    """Run ``jifen verify``'s checks (bounded memory, one snapshot) and keep the report."""
    try:
        report = report_json(verify_books(ctx.engine))
        state = "passed" if report["ok"] else "failed"
    except Exception as exc:  # a run that breaks is a failed run, not a forever-running one
        report = {"ok": False, "error": type(exc).__name__, "findings": []}
        state = "failed"
    with ctx.writer.begin() as tx:
        tx.execute(
            t.verification_runs.update()
            .where(t.verification_runs.c.run_id == verification_id)
            .values(state=state, report=json.dumps(report), finished_at=ctx.clock.now())
        )


def get_verification(ctx: Context, verification_id: str) -> Verification:
    with ctx.engine.connect() as conn:
        row = conn.execute(
            select(t.verification_runs).where(t.verification_runs.c.run_id == verification_id)
        ).first()
    if row is None:
        raise VerificationNotFound("没有这次校验 / no such verification", id=verification_id)
    return _view(row, ctx.clock.now())


def list_verifications(ctx: Context, *, cursor: str | None, limit: int) -> Page[Verification]:
    """Runs newest first, with their reports."""
    v = t.verification_runs.c
    query = (
        select(t.verification_runs)
        .where(older_than(v.started_at, v.run_id, cursor))
        .order_by(v.started_at.desc(), v.run_id.desc())
        .limit(check_limit(limit) + 1)
    )
    with ctx.engine.connect() as conn:
        rows = conn.execute(query).all()
    now = ctx.clock.now()
    items = [_view(r, now) for r in rows[:limit]]
    last = items[-1] if len(rows) > limit else None
    return Page(items, encode_cursor([last.started_at, last.verification_id]) if last else None)
