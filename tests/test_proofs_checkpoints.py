"""Liability snapshots and signed checkpoints (issue 15, docs/transparency.md), on both stores:
a snapshot adds up to the ledger or is refused; every member's downloaded proof verifies against
the signed root; a rewrite of history that recomputes every later hash — which ``jifen verify``
cannot tell from the truth — is caught by a checkpoint kept from before."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from jifen.app import Context
from jifen.ledger import _tables as lt
from jifen.ledger import verify
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
from proofs_kit import DAY, T0, earn, rewrite_history, small_alliance


@pytest.fixture
def ctx(db_url: str) -> Context:
    return small_alliance(db_url)


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
    ctx.ledger.submit(earn("late", "m99", 5), T0 + DAY)
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
    rewrite_history(ctx)
    assert verify(ctx.engine).ok  # the chain alone looks whole again: every hash recomputed
    found = compare_with_journal(ctx, kept["checkpoint"])
    assert len(found) == 1 and "history was rewritten" in found[0]
    assert any("history was rewritten" in f for f in check_feed(ctx))
