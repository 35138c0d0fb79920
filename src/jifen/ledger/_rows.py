"""Translating between table rows and ledger values (the only place that knows both)."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from jifen.ledger import _tables as t
from jifen.ledger._rederive import LOT_FIGURES as DERIVED_FIGURES
from jifen.ledger.chain import utc_text
from jifen.ledger.lots import Lot, LotStatus
from jifen.ledger.model import Asset, Entry, Leg

LOT_FIGURES = ("status", *DERIVED_FIGURES)


def detail_text(detail: Mapping[str, Any]) -> str:
    return json.dumps(
        {k: utc_text(v) if isinstance(v, datetime) else v for k, v in detail.items()},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )


def detail_value(text: str) -> dict[str, Any]:
    """Stored detail as it was hashed: datetimes stay UTC text, which hashes identically."""
    value: dict[str, Any] = json.loads(text)
    return value


def lot_from_row(row: Any) -> Lot:
    m = row._mapping
    return Lot(
        lot_id=m["lot_id"],
        member_id=m["member_id"],
        merchant_id=m["merchant_id"],
        order_ref=m["order_ref"],
        amount_fen=m["amount_fen"],
        points=m["points"],
        rule_version=m["rule_version"],
        paid_at=m["paid_at"],
        release_at=m["release_at"],
        expires_at=m["expires_at"],
        status=LotStatus(m["status"]),
        value_fen_per_point=m["value_fen_per_point"],
        **{f: m[f] for f in LOT_FIGURES if f != "status"},
    )


def lot_row(lot: Lot) -> dict[str, Any]:
    row = {c.name: getattr(lot, c.name) for c in t.lots.columns}
    row["status"] = lot.status.value
    return row


def lot_figures(lot: Lot) -> dict[str, Any]:
    """The lot's running figures (what changes after issue), keyed by column."""
    row = {"lot_id": lot.lot_id, **{f: getattr(lot, f) for f in LOT_FIGURES}}
    row["status"] = lot.status.value
    return row


def entry_from_rows(row: Any, leg_rows: Iterable[Any]) -> Entry:
    m = row._mapping
    return Entry(
        entry_id=m["entry_id"],
        key=m["idem_key"],
        body_hash=m["body_hash"],
        kind=m["kind"],
        at=m["at"],
        legs=tuple(
            Leg(r.account_id, Asset(r.asset), r.amount, r.lot_id)
            for r in sorted(leg_rows, key=lambda r: r.leg_no)
        ),
        detail=detail_value(m["detail"]),
    )


def load_entries(conn: Connection, entry_ids: Sequence[str]) -> dict[str, Entry]:
    if not entry_ids:
        return {}
    rows = conn.execute(select(t.entries).where(t.entries.c.entry_id.in_(entry_ids))).all()
    legs_by: dict[str, list[Any]] = defaultdict(list)
    for leg in conn.execute(select(t.legs).where(t.legs.c.entry_id.in_(entry_ids))):
        legs_by[leg.entry_id].append(leg)
    return {r.entry_id: entry_from_rows(r, legs_by[r.entry_id]) for r in rows}
