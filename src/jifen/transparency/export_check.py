"""Re-deriving the books from an audit export alone (issue 15), pure: the chain, every hash and
every balance, judged by the same rules as ``jifen verify`` (``jifen.ledger._checks``: the same
finding codes, docs/ledger.md) plus the export's own (docs/audit-export.md).

The shell feeds one block at a time with its entries (``ExportWalk.block``), in chain order, and
asks for the ``Books`` at the end; only the balances per account and a few running sums are held,
never the journal.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from jifen.ledger import chain
from jifen.ledger._checks import PointSums, check_block, check_entry, check_invariant
from jifen.ledger._rederive import Finding, Report
from jifen.ledger.model import AccountKind, Asset, member_account_kind
from jifen.transparency.beancount import account_name
from jifen.transparency.export_format import ExportAccount, ExportBlock, ExportEntry, LaneMark


@dataclass
class Books:
    """What the export says, re-derived: every account's balance (points or fen), each lane's
    last block, the invariant's totals, and each account's kind and asset (from the accounts
    file, or its name for members)."""

    balances: dict[str, int] = field(default_factory=dict)
    lanes: dict[int, LaneMark] = field(default_factory=dict)
    totals: dict[str, int] = field(default_factory=dict)
    kinds: dict[str, tuple[AccountKind, Asset]] = field(default_factory=dict)
    blocks: int = 0
    entries: int = 0


class ExportWalk:
    """The export's chain walked block by block (``block``), then judged whole (``finish``).
    Findings go to ``report`` (the ledger's ``Report``: the same list and limit)."""

    def __init__(self, accounts: Iterable[ExportAccount], report: Report) -> None:
        self.report = report
        self.kinds: dict[str, Any] = {}
        for a in accounts:
            try:
                self.kinds[a.account_id] = (AccountKind(a.kind), Asset(a.asset))
            except ValueError:
                report.add(Finding("export.line_invalid", f"account {a.account_id}: {a.kind}"))
        self.balances: dict[str, int] = defaultdict(int)
        self.sums = PointSums()
        self.last: dict[int, LaneMark] = {}
        self.blocks = self.entries = 0

    def block(self, block: ExportBlock, entries: list[ExportEntry]) -> None:
        where: dict[str, Any] = {"chain_id": block.chain_id, "height": block.height}
        last = self.last.get(block.chain_id, LaneMark(0, chain.GENESIS))
        if block.height != last.height + 1 or block.prev_hash != last.block_hash:
            self.report.add(
                Finding(
                    "chain.gap",
                    "block does not follow the previous one "
                    f"(expected height {last.height + 1} after {last.block_hash[:12]})",
                    **where,
                )
            )
        rows = [(e, e.entry) for e in entries]
        for e in entries:
            check_entry(self.report, self.kinds, block, e, e.entry, where)
            for leg in e.entry.legs:
                self.balances[leg.account] += leg.amount
            self.sums.add(e.entry, self.kinds)
        check_block(self.report, block, rows, where)
        self.last[block.chain_id] = LaneMark(block.height, block.block_hash)
        self.blocks += 1
        self.entries += len(entries)

    def stray(self, entry: ExportEntry) -> None:
        """An entry whose block is not in the export."""
        self.report.add(
            Finding(
                "entry.no_block",
                "entry belongs to no exported block",
                chain_id=entry.chain_id,
                height=entry.height,
                entry_id=entry.entry.entry_id,
            )
        )

    def finish(self, until: Mapping[int, LaneMark]) -> Books:
        """The lanes must end where the manifest says; the invariant must hold."""
        for lane in sorted(set(until) | set(self.last)):
            want, got = until.get(lane), self.last.get(lane, LaneMark(0, chain.GENESIS))
            if want != got:
                said = "not in the manifest" if want is None else f"{want.height}/{want.block_hash}"
                self.report.add(
                    Finding(
                        "chain.until_mismatch",
                        f"lane ends at {got.height}/{got.block_hash}; the manifest says {said}",
                        chain_id=lane,
                        height=got.height,
                    )
                )
        totals = self.sums.totals()
        check_invariant(self.report, totals)
        kinds = dict(self.kinds)
        for account in self.balances:
            known = kinds.get(account) or member_account_kind(account)
            if known is not None:
                kinds[account] = known
        balances = {a: 0 for a in self.kinds} | dict(self.balances)
        return Books(balances, dict(self.last), totals, kinds, self.blocks, self.entries)


BALANCE = re.compile(r"^(\d{4}-\d{2}-\d{2}) balance (\S+) +(-?\d+(?:\.\d+)?) (POINTS|CNY)$")


def parse_balance_line(text: str) -> tuple[str, str, Decimal] | None:
    """(Beancount account, commodity, amount in points or fen) of a ``balance`` line, or None.
    The amount is exact (a fraction of a fen stays one, and never equals a balance)."""
    m = BALANCE.match(text)
    if m is None:
        return None
    _, name, number, commodity = m.groups()
    try:
        units = Decimal(number) * (100 if commodity == "CNY" else 1)
    except InvalidOperation:  # pragma: no cover - the pattern admits only numbers
        return None
    return name, commodity, units


def check_assertions(
    books: Books, asserted: Iterable[tuple[str, str, Decimal]], report: Report
) -> None:
    """The Beancount file's balance assertions must be exactly the re-derived balances, one per
    account."""
    expected: dict[str, tuple[str, int, str]] = {}
    for account, balance in books.balances.items():
        kind, asset = books.kinds.get(account, (None, None))
        commodity = asset.value if asset is not None else "?"
        expected[account_name(account, kind)] = (commodity, balance, account)
    seen: set[str] = set()
    for name, commodity, units in asserted:
        want = expected.get(name)
        if name in seen or want is None:
            what = "twice" if name in seen else "for an account the journal does not have"
            report.add(Finding("beancount.balance_extra", f"{name} is asserted {what}"))
            continue
        seen.add(name)
        if commodity != want[0] or units != want[1]:
            report.add(
                Finding(
                    "beancount.balance_mismatch",
                    f"{name} ({want[2]}): asserted {units} {_unit(commodity)}, "
                    f"the journal says {want[1]} {_unit(want[0])}",
                )
            )
    for name in sorted(set(expected) - seen):
        report.add(
            Finding("beancount.balance_missing", f"{name} ({expected[name][2]}) has no assertion")
        )


def _unit(commodity: str) -> str:
    return {"CNY": "fen", "POINTS": "points"}.get(commodity, commodity)
