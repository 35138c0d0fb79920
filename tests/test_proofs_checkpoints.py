"""Liability snapshots and signed checkpoints (issue 15, docs/transparency.md), on both stores:
a snapshot adds up to the ledger or is refused; every member's downloaded proof verifies against
the signed root; a rewrite of history that recomputes every later hash — which ``jifen verify``
cannot tell from the truth — is caught by a checkpoint kept from before."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from jifen.alliance.orders import issue_charge_fen
from jifen.app import Context, SimulatedClock, open_alliance
from jifen.ledger import Earn, Redeem, Release, verify
from jifen.ledger import _tables as lt
from jifen.ledger._rows import detail_text, entry_from_rows
from jifen.ledger.chain import block_hash, entry_hash
from jifen.proofs import (
    ProofNotFound,
    SnapshotTotalsDiffer,
    check_feed,
    compare_with_journal,
    list_checkpoints,
    member_proof,
    take_checkpoint,
)
from jifen.proofs.signing import verify_signature
from jifen.store import tables as t
from jifen.transparency import Proof, verify_proof

T0 = datetime(2026, 5, 1, 2, tzinfo=UTC)
DAY = timedelta(days=1)


def _earn(key: str, member: str, points: int) -> Earn:
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


@pytest.fixture
def ctx(db_url: str) -> Context:
    ctx = open_alliance(db_url, secret="s", clock=SimulatedClock(T0))
    ctx.ledger.open_merchant("tea", T0)
    ctx.ledger.open_merchant("film", T0)
    for i in range(40):
        ctx.ledger.submit(_earn(f"e{i}", f"m{i:02d}", 100 + 7 * i), T0)
    big = ctx.ledger.submit(_earn("big", "m01", 900), T0).entry_id
    ctx.ledger.submit(Release("r1", big), T0 + 7 * DAY)
    ctx.ledger.submit(Redeem("x1", "m01", "film", 300, "f1"), T0 + 8 * DAY)
    for i in range(3):  # later history on top of the redemption
        ctx.ledger.submit(_earn(f"later{i}", "m02", 10), T0 + 9 * DAY)
    return ctx


def test_every_members_proof_verifies_against_the_signed_root_and_the_ledgers_total(
    ctx: Context,
) -> None:
    made = take_checkpoint(ctx, idem_key="k1")
    snap = made.document["snapshot"]
    assert snap["members"] == 40
    assert snap["total"] == sum(100 + 7 * i for i in range(40)) + 900 - 300 + 30
    assert snap["reserve_fen"] >= snap["liability_fen"] > 0
    verify_signature(made.document, made.signature)
    for i in range(40):
        file = member_proof(ctx, f"m{i:02d}")
        assert file["checkpoint"] == made.document and file["signature"] == made.signature
        proof = Proof.from_dict(file["proof"])
        verify_proof(proof, bytes.fromhex(snap["root"]), snap["total"])
        assert proof.balance == 100 + 7 * i + {1: 600, 2: 30}.get(i, 0)
    with pytest.raises(ProofNotFound):
        member_proof(ctx, "nobody")


def test_a_checkpoint_is_taken_once_per_key_or_day_and_chains_to_the_one_before(
    ctx: Context,
) -> None:
    first = take_checkpoint(ctx, idem_key="k1")
    assert take_checkpoint(ctx, idem_key="k1") == first
    ctx.ledger.submit(_earn("late", "m99", 5), T0 + DAY)
    second = take_checkpoint(ctx, business_date=(T0 + DAY).date())
    assert take_checkpoint(ctx, business_date=(T0 + DAY).date()) == second
    assert second.seq == first.seq + 1 and second.document["prev"] == first.digest
    assert second.document["snapshot"]["members"] == 41
    assert [c.seq for c in list_checkpoints(ctx, cursor=None, limit=10).items] == [1, 2]
    assert check_feed(ctx) == []
    # the old checkpoint's proofs are still served from its own tree
    old = member_proof(ctx, "m00", seq=first.seq)
    assert old["checkpoint"]["seq"] == 1


def test_a_snapshot_that_does_not_add_up_to_the_ledger_is_refused_and_nothing_is_written(
    ctx: Context,
) -> None:
    with ctx.writer.begin() as conn:  # a stored balance gone wrong (the journal is intact)
        conn.execute(
            update(lt.balances)
            .where(lt.balances.c.account_id == "member:m03:pending")
            .values(amount=lt.balances.c.amount + 1)
        )
    with pytest.raises(SnapshotTotalsDiffer) as refused:
        take_checkpoint(ctx, idem_key="k1")
    assert refused.value.code == "checkpoint.totals_differ"
    with ctx.engine.connect() as conn:
        assert conn.execute(select(t.checkpoints)).first() is None
        assert conn.execute(select(t.checkpoint_members)).first() is None


def test_a_rewritten_history_with_every_later_hash_recomputed_is_caught_by_a_kept_checkpoint(
    ctx: Context,
) -> None:
    kept = take_checkpoint(ctx, idem_key="k1").published()  # a member or auditor keeps this
    assert compare_with_journal(ctx, kept["checkpoint"]) == []
    _rewrite_history(ctx)
    assert verify(ctx.engine).ok  # the chain alone looks whole again: every hash recomputed
    found = compare_with_journal(ctx, kept["checkpoint"])
    assert len(found) == 1 and "history was rewritten" in found[0]
    assert any("history was rewritten" in f for f in check_feed(ctx))


def _rewrite_history(ctx: Context) -> None:
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
