"""The auditor's export of one signed checkpoint (``jifen audit export``/``verify``,
docs/audit-export.md): the journal up to exactly the blocks the checkpoint signed, plus the
checkpoint itself and its snapshot's leaves (each member's balance and salt), so that an auditor
re-derives from the files alone every member's balance, rebuilds the Merkle sum tree, and finds
the signed root, total and reserve — or a finding saying where they differ.

A point in history is named by a checkpoint, not a single block: the journal has many lanes,
and a checkpoint is the one signed statement of how far each of them had grown at one instant.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

from sqlalchemy import select

from jifen.app import Context
from jifen.ledger import Finding
from jifen.ledger.chain import GENESIS
from jifen.ledger.model import RESERVE, owner_id
from jifen.proofs.checking import signature_state, signed_checkpoint
from jifen.proofs.errors import CheckpointMalformed, ExportRequestInvalid
from jifen.proofs.export import ExportReport, verify_export, write_export
from jifen.proofs.feed import get_checkpoint, latest_checkpoint
from jifen.proofs.snapshots import Checkpoint
from jifen.store import tables as t
from jifen.transparency import ProofInvalid, SumTree, leaf_salt
from jifen.transparency import checkpoint as cp
from jifen.transparency.export_check import Books
from jifen.transparency.export_format import Manifest

CHECKPOINT_FILE = "checkpoint.json"
SNAPSHOT_FILE = "snapshot.jsonl"


def export_checkpoint(ctx: Context, seq: int | None, out_dir: Path) -> tuple[Checkpoint, Manifest]:
    """Write the export of checkpoint ``seq`` (None: the latest) into ``out_dir``."""
    found = latest_checkpoint(ctx) if seq is None else get_checkpoint(ctx, seq)
    if found is None:
        raise ExportRequestInvalid("尚无检查点可导出 / no checkpoint to export yet")
    lanes = {tip.chain_id: tip.height for tip in cp.tips(found.document)}
    extra = {
        CHECKPOINT_FILE: (json.dumps(found.published(), indent=2, sort_keys=True) + "\n").encode(),
        SNAPSHOT_FILE: _leaves(ctx, found),
    }
    return found, write_export(ctx, out_dir, lanes, extra=extra)


def _leaves(ctx: Context, found: Checkpoint) -> bytes:
    """One line per member of the snapshot: id, balance and salt (the salt lets the auditor
    recompute the leaf; the export already names every member in its journal)."""
    m = t.checkpoint_members.c
    key = ctx.secrets.snapshot_salt_key()
    with ctx.engine.connect() as conn:
        rows = conn.execute(
            select(m.member_id, m.balance).where(m.seq == found.seq).order_by(m.member_id)
        ).all()
    if len(rows) != found.figures.members:
        raise ExportRequestInvalid(
            f"第 {found.seq} 号检查点的快照明细已不再保存 / the snapshot of checkpoint "
            f"{found.seq} is no longer kept (only the latest are): export a recent checkpoint",
            seq=found.seq,
        )
    lines = (
        json.dumps(
            {
                "member_id": r.member_id,
                "balance": int(r.balance),
                "salt": leaf_salt(key, str(found.seq), r.member_id).hex(),
            },
            sort_keys=True,
            separators=(",", ":"),
        )
        for r in rows
    )
    return "".join(line + "\n" for line in lines).encode()


def verify_checkpoint_export(out_dir: Path) -> ExportReport:
    """``verify_export`` and then the checkpoint: signed, naming exactly the blocks exported,
    its snapshot's leaves equal to the balances re-derived, the tree's root and total and the
    reserve equal to what it signed."""
    return verify_export(out_dir, extra_checks=check_snapshot)


def check_snapshot(out_dir: Path, books: Books) -> list[Finding]:
    try:
        published = json.loads((out_dir / CHECKPOINT_FILE).read_text(encoding="utf-8"))
        document, signature = signed_checkpoint(published)
    except (OSError, ValueError, CheckpointMalformed) as exc:
        return [Finding("checkpoint.unreadable", f"{CHECKPOINT_FILE}: {exc}")]
    found = []
    state = signature_state(document, signature, None)
    if state != "valid":
        found.append(Finding("checkpoint.signature", f"the checkpoint's signature: {state}"))
    for tip in cp.tips(document):
        mark = books.lanes.get(tip.chain_id)
        ends = (0, GENESIS) if mark is None else (mark.height, mark.block_hash)
        if ends != (tip.height, tip.block_hash):
            found.append(
                Finding(
                    "checkpoint.lane_mismatch",
                    f"lane {tip.chain_id}: the checkpoint signed block {tip.height} "
                    f"{tip.block_hash[:16]}…, the export ends elsewhere",
                    chain_id=tip.chain_id,
                    height=tip.height,
                )
            )
    return found + _check_leaves(out_dir, books, document)


def _check_leaves(out_dir: Path, books: Books, document: dict[str, object]) -> list[Finding]:
    snap = cp.figures(document)
    try:
        leaves = [json.loads(line) for line in (out_dir / SNAPSHOT_FILE).read_text().splitlines()]
        rows = [(str(x["member_id"]), int(x["balance"]), bytes.fromhex(x["salt"])) for x in leaves]
        tree = SumTree(rows)
    except (OSError, ValueError, KeyError, TypeError, ProofInvalid) as exc:
        return [Finding("snapshot.unreadable", f"{SNAPSHOT_FILE}: {exc}")]
    found = []
    derived: dict[str, int] = defaultdict(int)
    for account, amount in books.balances.items():
        if account.startswith("member:"):
            derived[owner_id(account)] += amount
    listed = {member: balance for member, balance, _ in rows}
    for member in sorted(set(derived) | set(listed)):
        if derived.get(member, 0) != listed.get(member, 0):
            found.append(
                Finding(
                    "snapshot.balance_mismatch",
                    f"member {member}: the journal gives {derived.get(member, 0)} points, the "
                    f"snapshot {listed.get(member, 'nothing')}",
                )
            )
    root, total = tree.root
    if (root.hex(), total, tree.members) != (snap.root, snap.total, snap.members):
        found.append(
            Finding(
                "snapshot.root_mismatch",
                f"the leaves make root {root.hex()[:16]}… total {total} over {tree.members} "
                f"members; the checkpoint signed {snap.root[:16]}… {snap.total} over "
                f"{snap.members}",
            )
        )
    if books.totals.get("outstanding") != snap.total:
        found.append(
            Finding(
                "snapshot.total_mismatch",
                f"the journal's outstanding points {books.totals.get('outstanding')} ≠ the "
                f"signed total {snap.total}",
            )
        )
    if books.balances.get(RESERVE, 0) != snap.reserve_fen:
        found.append(
            Finding(
                "snapshot.reserve_mismatch",
                f"the journal's reserve {books.balances.get(RESERVE, 0)} fen ≠ the signed "
                f"reserve {snap.reserve_fen} fen",
            )
        )
    return found
