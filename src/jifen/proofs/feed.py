"""The published side of checkpoints: the append-only feed, a member's proof, and checking a
kept checkpoint or a whole feed against the journal as it is now (docs/transparency.md)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, or_, select

from jifen.app import Context
from jifen.app.paging import Page, check_limit, decode_cursor, encode_cursor
from jifen.ledger import queries
from jifen.ledger.chain import GENESIS
from jifen.proofs.errors import (
    CheckpointNotFound,
    ProofNotFound,
    SignatureInvalid,
    SignatureUnchecked,
)
from jifen.proofs.signing import verify_signature
from jifen.proofs.snapshots import CHUNK, Checkpoint, stored
from jifen.store import tables as t
from jifen.transparency import Proof, leaf_salt
from jifen.transparency import checkpoint as cp
from jifen.transparency.merkle import depth, path_of, record_at

PROOF_FORMAT = "jifen-liability-proof/1"


def latest_checkpoint(ctx: Context) -> Checkpoint | None:
    c = t.checkpoints.c
    with ctx.engine.connect() as conn:
        row = conn.execute(select(t.checkpoints).order_by(c.seq.desc()).limit(1)).first()
    return None if row is None else stored(row)


def get_checkpoint(ctx: Context, seq: int) -> Checkpoint:
    with ctx.engine.connect() as conn:
        row = conn.execute(select(t.checkpoints).where(t.checkpoints.c.seq == seq)).first()
    if row is None:
        raise CheckpointNotFound(f"没有第 {seq} 号检查点 / no checkpoint {seq}", seq=seq)
    return stored(row)


def list_checkpoints(ctx: Context, *, cursor: str | None, limit: int) -> Page[Checkpoint]:
    """The feed, oldest first: a follower keeps the cursor and reads only what is new."""
    after = decode_cursor(cursor, (int,))
    c = t.checkpoints.c
    query = select(t.checkpoints).order_by(c.seq).limit(check_limit(limit) + 1)
    if after is not None:
        query = query.where(c.seq > after[0])
    with ctx.engine.connect() as conn:
        rows = conn.execute(query).all()
    items = [stored(r) for r in rows[:limit]]
    more = len(rows) > limit
    return Page(items, encode_cursor([items[-1].seq]) if more else None)


def member_proof(ctx: Context, member_id: str, seq: int | None = None) -> dict[str, Any]:
    """The proof file a member downloads: their leaf and path, the signed checkpoint it leads
    to and its signature (``tools/verify_proof.py`` and ``jifen audit check-proof`` read it)."""
    found = latest_checkpoint(ctx) if seq is None else get_checkpoint(ctx, seq)
    if found is None:
        raise ProofNotFound("尚无负债快照 / no liability snapshot has been taken yet")
    m, n = t.checkpoint_members.c, t.checkpoint_nodes.c
    with ctx.engine.connect() as conn:
        leaf = conn.execute(
            select(m.leaf_index, m.balance).where(m.seq == found.seq, m.member_id == member_id)
        ).first()
        if leaf is None:
            raise ProofNotFound(
                f"第 {found.seq} 号快照中没有该会员的证明 / no proof for this member in "
                f"checkpoint {found.seq}",
                seq=found.seq,
            )
        levels = depth(found.figures.members)
        wanted = {(k, (int(leaf.leaf_index) >> k ^ 1) // CHUNK) for k in range(levels - 1)}
        where = or_(*(and_(n.level == k, n.chunk == c) for k, c in wanted))
        chunks = (
            {
                (r.level, r.chunk): bytes(r.records)
                for r in conn.execute(
                    select(n.level, n.chunk, n.records).where(n.seq == found.seq, where)
                )
            }
            if wanted
            else {}
        )
    path = path_of(
        int(leaf.leaf_index),
        levels,
        lambda k, i: record_at(chunks[(k, i // CHUNK)], i % CHUNK),
    )
    salt = leaf_salt(ctx.secrets.snapshot_salt_key(), str(found.seq), member_id)
    root = bytes.fromhex(found.figures.root)
    proof = Proof(member_id, int(leaf.balance), salt, tuple(path), root, found.figures.total)
    return {"format": PROOF_FORMAT, "proof": proof.as_dict(), **found.published()}


def compare_with_journal(ctx: Context, document: dict[str, Any]) -> list[str]:
    """Where the journal now differs from what a kept checkpoint signed (empty: it agrees)."""
    with ctx.engine.connect() as conn:
        return cp.diverged(document, lambda c, h: queries.block_hash_at(conn, c, h))


def check_feed(ctx: Context) -> list[str]:
    """Every stored checkpoint: well-formed, signed, chained to the one before, and agreeing
    with the journal as it is now."""
    problems: list[str] = []
    prev, cursor = GENESIS, None
    while True:
        page = list_checkpoints(ctx, cursor=cursor, limit=100)
        for item in page.items:
            problems += _check_one(ctx, item, prev)
            prev = item.digest
        if page.next_cursor is None:
            return problems
        cursor = page.next_cursor


def _check_one(ctx: Context, item: Checkpoint, prev: str) -> list[str]:
    try:
        cp.parse(item.document)
        verify_signature(item.document, item.signature)
    except cp.CheckpointMalformed as exc:
        return [f"checkpoint {item.seq}: {exc}"]
    except (SignatureInvalid, SignatureUnchecked) as exc:
        return [f"checkpoint {item.seq}: {exc.message}"]
    found = []
    if cp.digest(item.document) != item.digest:
        found.append(f"checkpoint {item.seq}: its digest does not match its document")
    if item.document["prev"] != prev:
        found.append(f"checkpoint {item.seq}: does not follow the checkpoint before it")
    return found + compare_with_journal(ctx, item.document)
