"""A small alliance's ledger for the proof-of-liabilities tests, and an insider's rewrite of its
history (tests/test_proofs_checkpoints.py, tests/test_cli_audit.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from jifen.alliance.orders import issue_charge_fen
from jifen.app import Context, SimulatedClock, open_alliance
from jifen.ledger import Earn, Redeem, Release
from jifen.ledger import _tables as lt
from jifen.ledger._rows import detail_text, entry_from_rows
from jifen.ledger.chain import block_hash, entry_hash

T0 = datetime(2026, 5, 1, 2, tzinfo=UTC)
DAY = timedelta(days=1)
SECRET = "s"


def earn(key: str, member: str, points: int) -> Earn:
    return Earn(
        key=key,
        member_id=member,
        merchant_id="tea",
        order_ref=key,
        amount_fen=points * 100,
        points=points,
        rule_version=1,
        paid_at=T0,
        release_at=T0 + 7 * DAY,
        expires_at=T0 + 90 * DAY,
        charge_fen=issue_charge_fen(points, 1200),
        value_fen_per_point=1,
    )


def small_alliance(db_url: str) -> Context:
    """40 members with points (m00…m39), one redemption, later history on top of it."""
    ctx = open_alliance(db_url, secret=SECRET, clock=SimulatedClock(T0))
    ctx.ledger.open_merchant("tea", T0)
    ctx.ledger.open_merchant("film", T0)
    for i in range(40):
        ctx.ledger.submit(earn(f"e{i}", f"m{i:02d}", 100 + 7 * i), T0)
    big = ctx.ledger.submit(earn("big", "m01", 900), T0).entry_id
    ctx.ledger.submit(Release("r1", big), T0 + 7 * DAY)
    ctx.ledger.submit(Redeem("x1", "m01", "film", 300, "f1"), T0 + 8 * DAY)
    for i in range(3):  # later history on top of the redemption
        ctx.ledger.submit(earn(f"later{i}", "m02", 10), T0 + 9 * DAY)
    return ctx


def rewrite_history(ctx: Context) -> None:
    """An insider rewrites one historical entry — the redemption now names another order — and
    recomputes its hash and every block hash after it up to the lane's tip, so the chain is
    consistent again (no stored balance depends on the order named)."""
    alg = ctx.ledger.hash_alg
    e, b = lt.entries.c, lt.blocks.c
    with ctx.writer.begin() as conn:
        target = conn.execute(select(lt.entries).where(e.idem_key == "x1")).one()
        detail = json.loads(target.detail) | {"order_ref": "forged"}
        conn.execute(
            update(lt.entries)
            .where(e.entry_id == target.entry_id)
            .values(detail=detail_text(detail))
        )
        lane, prev = target.chain_id, None
        later = select(lt.blocks).where(b.chain_id == lane, b.height >= target.height)
        for block in conn.execute(later.order_by(b.height)).all():
            hashes = []
            rows = conn.execute(
                select(lt.entries)
                .where(e.chain_id == lane, e.height == block.height)
                .order_by(e.seq)
            ).all()
            for row in rows:
                legs = conn.execute(select(lt.legs).where(lt.legs.c.entry_id == row.entry_id))
                new = entry_hash(alg, entry_from_rows(row, legs.all()))
                conn.execute(
                    update(lt.entries).where(e.entry_id == row.entry_id).values(entry_hash=new)
                )
                hashes.append(new)
            prev = block.prev_hash if prev is None else prev
            new_block = block_hash(
                alg,
                chain_id=lane,
                height=block.height,
                prev_hash=prev,
                committed_at=block.committed_at,
                entry_hashes=hashes,
            )
            conn.execute(
                update(lt.blocks)
                .where(b.chain_id == lane, b.height == block.height)
                .values(prev_hash=prev, block_hash=new_block)
            )
            prev = new_block
        conn.execute(update(lt.chains).where(lt.chains.c.chain_id == lane).values(tip_hash=prev))
