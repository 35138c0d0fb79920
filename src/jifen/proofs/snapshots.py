"""Taking a liability snapshot and signing its checkpoint (brief §5, docs/transparency.md).

One snapshot reads, in one consistent read of the store, every member's outstanding points,
every lane's tip and the reserve; builds the Merkle sum tree; refuses to go on unless the tree's
total is the ledger's outstanding points by both of its own counts (the balances' invariant and
the lots); signs the checkpoint document; and stores document, signature and tree in one
transaction — whole or not at all. The daily jobs take one after closing the days
(``business_date``); an operator may take one at any time (``idem_key``). Both are idempotent.

Only the latest ``KEEP_TREES`` trees are kept (a proof can be fetched from those); every
checkpoint document and signature is kept for ever, append-only.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from functools import partial
from typing import Any

from sqlalchemy import Connection, delete, insert, or_, select
from sqlalchemy.exc import IntegrityError

from jifen.app import Context
from jifen.ledger import queries
from jifen.ledger.chain import GENESIS, canonical, utc_text
from jifen.proofs.errors import SnapshotTotalsDiffer
from jifen.proofs.signing import SigningKey, key_file_from_env, load_signing_key, signature_record
from jifen.store import tables as t
from jifen.transparency import ProofInvalid, SumTree, leaf_salt
from jifen.transparency import checkpoint as cp
from jifen.transparency.merkle import RECORD

KEEP_TREES = 31
"""Trees kept for members' proofs: a month of daily checkpoints (the documents stay for ever)."""
CHUNK = 1024
"""Records per stored chunk of a level (40 KiB): a proof reads one chunk per level."""
_ROWS = 10_000


@dataclass(frozen=True)
class Checkpoint:
    """A stored checkpoint: the signed document, its digest and the signature record."""

    seq: int
    document: dict[str, Any]
    digest: str
    signature: dict[str, Any]

    @property
    def figures(self) -> cp.Figures:
        return cp.figures(self.document)

    def published(self) -> dict[str, Any]:
        """What is published: the document with its signature."""
        return {"checkpoint": self.document, "signature": self.signature, "digest": self.digest}


def signing_key(ctx: Context) -> SigningKey:
    """The operator's key: a key file named by ``JIFEN_SIGNING_KEY``, else the Ed25519 key
    derived from the store's secret (docs/transparency.md, "Signing keys")."""
    return load_signing_key(ctx.secrets, key_file_from_env(os.environ))


def take_checkpoint(
    ctx: Context, *, business_date: date | None = None, idem_key: str | None = None
) -> Checkpoint:
    """The checkpoint for ``business_date`` (the daily one) or ``idem_key`` (on demand), taken
    now unless it already exists. Raises ``SnapshotTotalsDiffer`` rather than sign a total that
    is not the ledger's."""
    day = business_date.isoformat() if business_date else None
    key = signing_key(ctx)
    for _ in range(5):
        if (found := _existing(ctx, day, idem_key)) is not None:
            return found
        with _consistent_read(ctx) as conn:
            seq, prev = _next(conn)
            tree, document = _snapshot(ctx, conn, seq, prev, day)
        signature = signature_record(key, document)
        made = Checkpoint(seq, document, cp.digest(document), signature)
        try:
            ctx.atomic(None, partial(_store, made=made, tree=tree, day=day, key=idem_key))
        except IntegrityError:
            continue  # another snapshot took this number, or this day or key, meanwhile
        return made
    raise RuntimeError("five snapshots raced for the same checkpoint number")  # pragma: no cover


@contextmanager
def _consistent_read(ctx: Context) -> Iterator[Connection]:
    """One read transaction that sees a single moment of the store (PostgreSQL: repeatable read;
    SQLite: one read transaction over the write-ahead log)."""
    with ctx.engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            yield conn


def _next(conn: Connection) -> tuple[int, str]:
    c = t.checkpoints.c
    last = conn.execute(select(c.seq, c.digest).order_by(c.seq.desc()).limit(1)).first()
    return (1, GENESIS) if last is None else (int(last.seq) + 1, str(last.digest))


def _snapshot(
    ctx: Context, conn: Connection, seq: int, prev: str, day: str | None
) -> tuple[SumTree, dict[str, Any]]:
    salt_key = ctx.secrets.snapshot_salt_key()
    leaves = (
        (member, points, leaf_salt(salt_key, str(seq), member))
        for member, points in queries.member_outstanding(conn)
    )
    try:
        tree = SumTree(leaves)
    except ProofInvalid as exc:
        raise SnapshotTotalsDiffer(
            f"会员余额异常，快照被拒绝 / a member's balance cannot be counted: {exc}"
        ) from exc
    root, total = tree.root
    totals = queries.point_totals(conn)
    reserve, lots_outstanding, liability = queries.reserve_and_liability(conn)
    if not total == totals["outstanding"] == lots_outstanding:
        raise SnapshotTotalsDiffer(
            f"会员余额合计 {total} 与账本未使用积分 {totals['outstanding']}（批次 "
            f"{lots_outstanding}）不符，快照被拒绝 / members' balances add up to {total}, the "
            f"ledger's outstanding points are {totals['outstanding']} (lots: "
            f"{lots_outstanding}): the snapshot is refused; run jifen verify",
            members_total=total,
            ledger_outstanding=totals["outstanding"],
            lots_outstanding=lots_outstanding,
        )
    tips = [cp.Tip(c, h, tip) for c, h, tip in queries.chain_tips(conn)]
    document = cp.document(
        seq=seq,
        taken_at=utc_text(ctx.clock.now()),
        business_date=day,
        hash_alg=ctx.ledger.hash_alg,
        tips=tips,
        figures=cp.Figures(root.hex(), total, tree.members, reserve, liability),
        prev=prev,
    )
    return tree, document


def _store(
    tx: Connection, made: Checkpoint, tree: SumTree, day: str | None, key: str | None
) -> None:
    tx.execute(
        insert(t.checkpoints).values(
            seq=made.seq,
            taken_at=_taken_at(made.document),
            business_date=day,
            idem_key=key,
            document=canonical(made.document).decode(),
            digest=made.digest,
            signature=json.dumps(made.signature, sort_keys=True),
        )
    )
    level0 = tree.levels[0]
    _insert_members(
        tx,
        (
            (
                made.seq,
                member,
                index,
                int.from_bytes(level0[index * RECORD + 32 : (index + 1) * RECORD]),
            )
            for index, member in enumerate(tree.order)
        ),
    )
    step = CHUNK * RECORD
    for level, records in enumerate(tree.levels):
        chunks = [
            {"seq": made.seq, "level": level, "chunk": i // step, "records": records[i : i + step]}
            for i in range(0, len(records), step)
        ]
        for i in range(0, len(chunks), 100):
            tx.execute(insert(t.checkpoint_nodes), chunks[i : i + 100])
    _prune(tx, made.seq - KEEP_TREES)


def _insert_members(tx: Connection, rows: Iterator[tuple[str | int, ...]]) -> None:
    """Each member's leaf: by ``COPY`` on PostgreSQL (a million rows in seconds, where one
    INSERT per row takes minutes), in batches elsewhere."""
    names = ("seq", "member_id", "leaf_index", "balance")
    if tx.dialect.name == "postgresql":
        driver = tx.connection.driver_connection  # psycopg 3, in this transaction
        assert driver is not None
        cursor = driver.cursor()
        with cursor.copy(f"COPY checkpoint_members ({', '.join(names)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    batch: list[dict[str, object]] = []
    for row in rows:
        batch.append(dict(zip(names, row, strict=True)))
        if len(batch) == _ROWS:
            tx.execute(insert(t.checkpoint_members), batch)
            batch = []
    if batch:
        tx.execute(insert(t.checkpoint_members), batch)


def _prune(tx: Connection, up_to: int) -> None:
    """Forget the trees of checkpoints up to ``up_to`` (their documents stay)."""
    if up_to >= 1:
        tx.execute(delete(t.checkpoint_members).where(t.checkpoint_members.c.seq <= up_to))
        tx.execute(delete(t.checkpoint_nodes).where(t.checkpoint_nodes.c.seq <= up_to))


def _taken_at(document: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(document["taken_at"].replace("Z", "+00:00"))


def _existing(ctx: Context, day: str | None, key: str | None) -> Checkpoint | None:
    if day is None and key is None:
        return None
    c = t.checkpoints.c
    named = [c.business_date == day] if day is not None else []
    named += [c.idem_key == key] if key is not None else []
    wanted = or_(*named)
    with ctx.engine.connect() as conn:
        row = conn.execute(select(t.checkpoints).where(wanted)).first()
    return None if row is None else stored(row)


def stored(row: Any) -> Checkpoint:
    """A checkpoint from its row (the document re-read from the text that was signed)."""
    return Checkpoint(
        int(row.seq), json.loads(row.document), str(row.digest), json.loads(row.signature)
    )
