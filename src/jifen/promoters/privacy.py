"""A member's referral data in their copy of their data (PIPL art 45; docs/privacy.md): their
referrer, their rewards as a promoter, their payee record and their payout lines.

``jifen.alliance.privacy.export`` cannot gather these (the alliance stands below the promoters in
the layers), so the member console composes the two. What is shown is what the member's own
pages show: the referrer by the last characters of its id (another person's data), no buyer of a
rewarded order (the rewards name the order, never who bought), and the payee record masked as
``payees.payee`` gives it: the real name, the ID number and the account appear only masked,
even in their owner's download (a downloaded file is readable by anyone who holds it).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from jifen.app.context import Context
from jifen.app.paging import MAX_PAGE
from jifen.promoters import graph, payees, views
from jifen.promoters.errors import PayeeNotFound

REWARD_FIELDS = (
    "reward_id", "order_ref", "merchant_id", "kind", "share_bp", "order_fen", "basis_fen",
    "fen", "capped_fen", "expected_fen", "state", "paid_at", "due_at", "settled_at", "month",
    "paid_out", "why",
)  # fmt: skip
PAYEE_FIELDS = (
    "name_mask", "id_mask", "account_kind", "account_hint", "consent_version", "consented_at",
    "verified_at", "payable", "created_at", "updated_at",
)  # fmt: skip


def _plain(value: Any, names: tuple[str, ...]) -> dict[str, Any]:
    """The named fields, times as ISO text (JSON has no time type)."""
    found = {name: getattr(value, name) for name in names}
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in found.items()}


def _rewards(ctx: Context, member_id: str) -> Iterator[views.Reward]:
    cursor: str | None = None
    while True:
        found = views.promoter_rewards(ctx, member_id, cursor, MAX_PAGE)
        yield from found.items
        if not (cursor := found.next_cursor):
            return


def _lines(ctx: Context, member_id: str) -> Iterator[views.PayoutLine]:
    for year in views.payout_years(ctx, member_id):
        for month in views.payee_payouts(ctx, member_id, year).months:
            yield from month.lines


def export(ctx: Context, member_id: str) -> dict[str, Any]:
    """The member's referral data in plain values (``"referrals"`` in their copy)."""
    held = graph.referrer_of(ctx, member_id)
    try:
        payee: dict[str, Any] | None = _plain(payees.payee(ctx, member_id), PAYEE_FIELDS)
    except PayeeNotFound:
        payee = None
    line_fields = tuple(f.name for f in dataclasses.fields(views.PayoutLine))
    return {
        "referrer": None
        if held is None
        else {
            "promoter": views.masked(held.promoter_id),
            **_plain(held, ("source", "bound_at", "changed_at")),
        },
        "rewards_as_promoter": [_plain(r, REWARD_FIELDS) for r in _rewards(ctx, member_id)],
        "payee": payee,
        "payout_lines": [_plain(x, line_fields) for x in _lines(ctx, member_id)],
    }


def csv_rows(data: dict[str, Any]) -> list[list[Any]]:
    """The same, as rows of the copy's flat table (category, at, item, value, merchant_id,
    order_ref, rule_version): one row per fact, amounts in fen."""
    rows: list[list[Any]] = []
    if ref := data["referrer"]:
        rows.append(["referrer", ref["bound_at"], ref["source"], ref["promoter"], "", "", ""])
    for r in data["rewards_as_promoter"]:
        item = f"{r['kind']} {r['state']} fen"
        rows.append(["referral_reward", r["paid_at"], item, r["expected_fen"],
                     r["merchant_id"], r["order_ref"], ""])  # fmt: skip
    if payee := data["payee"]:
        for name in ("name_mask", "id_mask", "account_kind", "account_hint", "verified_at"):
            rows.append(["payee", payee["updated_at"], name, payee[name] or "", "", "", ""])
    for x in data["payout_lines"]:
        for name in ("gross_fen", "tax_fen", "net_fen"):
            item = f"{x['tax_month']} {x['state']} {name}"
            rows.append(["referral_payout", x["finished_at"] or "", item, x[name], "", "", ""])
    return rows
