"""``jifen verify``: recompute every hash, re-derive every balance and lot, check the invariants.

Reads only the tables, the way an auditor with read access would; trusts no cache. The first
finding in chain order names the broken block and entry; the rest are listed after it.

In bounded memory, however long the journal and however many members: each lane is walked a page
of blocks at a time (the chain links need only the previous block's hash); what the entries say
about balances, lots and caps is summed in memory up to ``range_size`` keys and then drained to a
scratch file (``_scratch``), where the stored caches are copied a page at a time too; each check
then streams one sorted join of the two. The invariant's sums are a handful of running numbers.

With a checkpoint (``resume``) nothing is skipped but re-hashing: below each lane's checkpointed
height, entries and blocks are replayed and checked but their hashes are not recomputed; the block
at that height must still carry the checkpointed hash, and the invariant's sums up to there the
checkpointed totals, or the finding is ``chain.rewritten`` (docs/ledger.md, "Verifying").
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, Engine, func, select

from jifen.ledger import _tables as t
from jifen.ledger import chain
from jifen.ledger._caches import check_caches, copy_caches
from jifen.ledger._checkpoint import Checkpoint
from jifen.ledger._checks import (
    PointSums,
    check_block,
    check_entry,
    check_invariant,
    check_reserve,
    tip_difference,
)
from jifen.ledger._rederive import (
    TOTALS,
    Finding,
    LaneTip,
    Replay,
    Report,
)
from jifen.ledger._rows import entry_from_rows
from jifen.ledger._scratch import Scratch
from jifen.ledger.model import RESERVE, AccountKind, Asset, Entry

BLOCKS_PER_PAGE = 500
"""Most blocks read at once; a page also ends once it holds ``ENTRIES_PER_PAGE`` entries."""
ENTRIES_PER_PAGE = 20_000
RANGE_SIZE = 10_000
"""Most accounts, lots and caps re-derived in memory before they go to the scratch file, and the
rows of a stored cache copied at once."""
MAX_KNOWN_ACCOUNTS = 10_000
"""Registered (merchant and system) accounts whose kind is remembered between pages."""

Page = list[tuple[Any, list[tuple[Any, Entry]]]]


def verify(
    engine: Engine,
    *,
    resume: Checkpoint | None = None,
    blocks_per_page: int = BLOCKS_PER_PAGE,
    range_size: int = RANGE_SIZE,
    scratch_dir: str | None = None,
) -> Report:
    """The ledger's report. ``resume``: a checkpoint of an earlier clean run (hashes below it are
    not recomputed). The sizes bound memory; the report does not depend on them."""
    assert blocks_per_page > 0 and range_size > 0
    report = Report(resumed=resume is not None)
    with engine.connect() as conn, Scratch(scratch_dir) as scratch:
        if conn.dialect.name == "postgresql":  # one snapshot while writers keep writing
            conn.execution_options(isolation_level="REPEATABLE READ")
        report.hash_alg = (
            conn.execute(
                select(t.meta.c.value).where(t.meta.c.name == "hash_alg")
            ).scalar_one_or_none()
            or "sha256"
        )
        walk = _Walk(conn, report, scratch, resume, blocks_per_page, range_size)
        lanes = conn.execute(
            select(t.chains.c.chain_id, t.chains.c.height, t.chains.c.tip_hash).order_by(
                t.chains.c.chain_id
            )
        ).all()
        for chain_id, tip_height, tip_hash in lanes:
            walk.lane(chain_id, (tip_height, tip_hash))
        sums = walk.finish()
        _check_orphans(conn, report)
        copy_caches(conn, scratch, range_size)
        scratch.sum_up()
        check_caches(report, scratch)
        report.totals = sums.totals()
        check_invariant(report, report.totals)
        check_reserve(report, scratch.derived_balance(RESERVE), scratch.liability_fen())
    return report


class _Walk:
    """The lanes walked page by page: checks, the replay (drained to the scratch file) and the
    invariant's sums, split at the checkpoint when resuming."""

    def __init__(
        self,
        conn: Connection,
        report: Report,
        scratch: Scratch,
        resume: Checkpoint | None,
        blocks_per_page: int,
        range_size: int,
    ) -> None:
        self.conn, self.report, self.scratch, self.resume = conn, report, scratch, resume
        self.blocks_per_page, self.range_size = blocks_per_page, range_size
        self.replay = Replay()
        self.kinds: dict[str, Any] = {}
        self.before, self.after = PointSums(), PointSums()  # up to the checkpoint, and since
        self.walked: set[int] = set()
        if resume is not None and resume.hash_alg != report.hash_alg:
            report.add(
                _rewritten(
                    f"the checkpoint verified {resume.hash_alg} hashes, "
                    f"the store says {report.hash_alg}"
                )
            )

    def lane(self, chain_id: int, tip: tuple[int, str]) -> None:
        """Every block of one lane in height order: the chain links, each entry's hash and legs,
        the block's hash; and every entry replayed into the derived books."""
        mark = self.resume.lanes.get(chain_id) if self.resume else None
        self.walked.add(chain_id)
        last_height, last_hash, entries = 0, chain.GENESIS, 0
        for page in _pages(self.conn, chain_id, self.blocks_per_page):
            self._learn_kinds(page)
            for block, rows in page:
                below = mark is not None and block.height <= mark.height
                entries += len(rows)
                self._block(chain_id, block, rows, (last_height, last_hash), below=below)
                if mark is not None and block.height == mark.height:
                    self._at_mark(chain_id, block, mark, entries)
                last_height, last_hash = block.height, block.block_hash
        if mark is not None and last_height < mark.height:
            self.report.add(
                _rewritten(
                    f"the lane ends at height {last_height}, the checkpoint verified it "
                    f"up to {mark.height}",
                    chain_id=chain_id,
                    height=mark.height,
                )
            )
        self.report.lanes[chain_id] = LaneTip(last_height, last_hash, entries)
        if (last_height, last_hash) != tip:
            self.report.add(
                Finding(
                    "chain.tip_mismatch",
                    tip_difference(*tip, last_height, last_hash),
                    chain_id=chain_id,
                    height=tip[0],
                )
            )

    def _block(
        self,
        chain_id: int,
        block: Any,
        rows: list[tuple[Any, Entry]],
        last: tuple[int, str],
        *,
        below: bool,
    ) -> None:
        report = self.report
        report.blocks += 1
        report.checked_blocks += 0 if below else 1
        where = {"chain_id": chain_id, "height": block.height}
        if block.height != last[0] + 1 or block.prev_hash != last[1]:
            report.add(
                Finding(
                    "chain.gap",
                    "block does not follow the previous one "
                    f"(expected height {last[0] + 1} after {last[1][:12]})",
                    **where,
                )
            )
        sums = self.before if below else self.after
        for row, entry in rows:
            report.entries += 1
            check_entry(report, self.kinds, block, row, entry, where, rehash=not below)
            self.replay.apply(entry)
            sums.add(entry, self.kinds)
            if self.replay.size() >= self.range_size:
                self.scratch.add(self.replay.drain())
        check_block(report, block, rows, where, rehash=not below)

    def _at_mark(self, chain_id: int, block: Any, mark: LaneTip, entries: int) -> None:
        """The block at the checkpoint's height must be the one the checkpoint verified."""
        where = {"chain_id": chain_id, "height": block.height}
        if block.block_hash != mark.block_hash:
            self.report.add(
                _rewritten(
                    f"block hash {block.block_hash} but the checkpoint verified {mark.block_hash}",
                    **where,
                )
            )
        elif entries != mark.entries:
            self.report.add(
                _rewritten(
                    f"{entries} entries up to this block, the checkpoint verified {mark.entries}",
                    **where,
                )
            )

    def _learn_kinds(self, page: Page) -> None:
        """The kinds of the registered accounts a page's legs name (member accounts' kinds
        follow from their names), remembering at most ``MAX_KNOWN_ACCOUNTS``."""
        named = {leg.account for _, rows in page for _, entry in rows for leg in entry.legs}
        missing = sorted(a for a in named if a not in self.kinds and not a.startswith("member:"))
        if len(self.kinds) + len(missing) > MAX_KNOWN_ACCOUNTS:
            self.kinds.clear()
            missing = sorted(a for a in named if not a.startswith("member:"))
        for start in range(0, len(missing), 500):
            chunk = missing[start : start + 500]
            self.kinds.update(dict.fromkeys(chunk))
            for r in self.conn.execute(
                select(t.accounts.c.account_id, t.accounts.c.kind, t.accounts.c.asset).where(
                    t.accounts.c.account_id.in_(chunk)
                )
            ):
                self.kinds[r.account_id] = (AccountKind(r.kind), Asset(r.asset))

    def finish(self) -> PointSums:
        """Drain the replay; when resuming, hold the lanes and the sums up to the checkpoint
        against it. Returns the invariant's sums over everything walked."""
        self.scratch.add(self.replay.drain())
        if self.resume is not None:
            for chain_id in sorted(set(self.resume.lanes) - self.walked):
                self.report.add(
                    _rewritten(
                        "the checkpoint verified this lane; the store has no such lane",
                        chain_id=chain_id,
                        height=self.resume.lanes[chain_id].height,
                    )
                )
            before = self.before.totals()
            differ = [
                f"{k} {before[k]}, checkpoint {self.resume.totals[k]}"
                for k in TOTALS
                if before[k] != self.resume.totals[k]
            ]
            if differ:
                self.report.add(
                    _rewritten("the journal up to the checkpoint now sums to " + "; ".join(differ))
                )
        return self.before.plus(self.after)


def _rewritten(message: str, **where: Any) -> Finding:
    return Finding(
        "chain.rewritten", f"history before the checkpoint was rewritten: {message}", **where
    )


def _pages(conn: Connection, chain_id: int, blocks_per_page: int) -> Iterator[Page]:
    """Blocks of one lane in height order, each with its entries (rows and values), a page at a
    time: at most ``blocks_per_page`` blocks, and no more blocks once ``ENTRIES_PER_PAGE``
    entries are in."""
    after = 0
    while True:
        blocks = conn.execute(
            select(t.blocks)
            .where(t.blocks.c.chain_id == chain_id, t.blocks.c.height > after)
            .order_by(t.blocks.c.height)
            .limit(blocks_per_page)
        ).all()
        if not blocks:
            return
        held, cut = 0, len(blocks)
        for n, block in enumerate(blocks):
            held += max(block.entry_count, 0)
            if held >= ENTRIES_PER_PAGE:
                cut = n + 1
                break
        blocks = blocks[:cut]
        lo, hi = blocks[0].height, blocks[-1].height
        in_range = (t.entries.c.chain_id == chain_id, t.entries.c.height.between(lo, hi))
        legs_by: dict[str, list[Any]] = defaultdict(list)
        for leg in conn.execute(
            select(t.legs)
            .join(t.entries, t.entries.c.entry_id == t.legs.c.entry_id)
            .where(*in_range)
        ):
            legs_by[leg.entry_id].append(leg)
        by_block: dict[int, list[tuple[Any, Entry]]] = defaultdict(list)
        for row in conn.execute(
            select(t.entries).where(*in_range).order_by(t.entries.c.height, t.entries.c.seq)
        ):
            by_block[row.height].append((row, entry_from_rows(row, legs_by.pop(row.entry_id, []))))
        yield [(block, by_block.get(block.height, [])) for block in blocks]
        after = hi


def _check_orphans(conn: Connection, report: Report) -> None:
    orphans = conn.execute(
        select(func.count())
        .select_from(t.entries)
        .where(
            ~select(t.blocks.c.chain_id)
            .where(
                t.blocks.c.chain_id == t.entries.c.chain_id,
                t.blocks.c.height == t.entries.c.height,
            )
            .exists()
        )
    ).scalar_one()
    if orphans:
        report.add(Finding("entry.no_block", f"{orphans} entries belong to no block"))
