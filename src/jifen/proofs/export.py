"""The audit export (issue 15), the shell: ``write_export`` writes the journal, the blocks and the
accounts up to a height per lane as line files, the same books as a Beancount ledger, any extra
files a caller adds (checkpoints, snapshots) and, last, the manifest of their hashes;
``verify_export`` re-derives everything from such a folder alone. The format, the account mapping
and every finding code are in docs/audit-export.md.

Both stream: the journal is read from the store (``jifen.ledger.queries``) and from the files a
page or a line at a time; what is held is one value per account (its balance, its first day), so
memory grows with the accounts, not with the journal.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Connection

from jifen.app import Context
from jifen.ledger import Finding, Report, queries
from jifen.ledger.chain import GENESIS
from jifen.ledger.model import AccountKind, Asset, Entry, Leg, member_account_kind
from jifen.proofs.errors import ExportRequestInvalid, ExportTargetInUse
from jifen.transparency import beancount as bc
from jifen.transparency import export_format as fmt
from jifen.transparency.export_check import Books, ExportWalk, check_assertions, parse_balance_line

EXTRA_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
Kinds = dict[str, tuple[AccountKind, Asset]]


class _Out:
    """A file being written, digested as it goes."""

    def __init__(self, folder: Path, name: str) -> None:
        self.file: IO[bytes] = (folder / name).open("xb")
        self.digester = fmt.Digester(name)

    def write(self, data: bytes) -> None:
        self.file.write(data)
        self.digester.update(data)

    def close(self) -> fmt.FileDigest:
        self.file.close()
        return self.digester.digest()


def write_export(
    ctx: Context, out_dir: Path, lanes: dict[int, int], *, extra: dict[str, bytes] | None = None
) -> fmt.Manifest:
    """Export every block of each lane in ``lanes`` (chain id → last height, inclusive) into
    ``out_dir`` (new or empty: ``export.target_in_use`` otherwise). ``extra``: more files
    (name → content) listed in the manifest beside the export's own."""
    extra = dict(extra or {})
    _check_request(out_dir, extra)
    created_at = ctx.clock.now()
    with ctx.engine.connect() as conn:
        if conn.dialect.name == "postgresql":  # one snapshot while writers keep writing
            conn.execution_options(isolation_level="REPEATABLE READ")
        until = _until(conn, lanes)
        out_dir.mkdir(parents=True, exist_ok=True)
        kinds, opened, accounts_digest = _write_accounts(conn, out_dir)
        digests = [accounts_digest, _write_blocks(conn, out_dir, lanes)]
        digests += _write_journal(conn, out_dir, lanes, kinds, opened, created_at.date())
    for name, content in sorted(extra.items()):
        out = _Out(out_dir, name)
        out.write(content)
        digests.append(out.close())
    manifest = fmt.Manifest(created_at, ctx.ledger.hash_alg, until, tuple(digests))
    (out_dir / fmt.MANIFEST).write_bytes(fmt.manifest_bytes(manifest))
    return manifest


def _check_request(out_dir: Path, extra: Mapping[str, bytes]) -> None:
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise ExportTargetInUse(
            f"导出目录须为空 / the export folder must be new or empty: {out_dir}"
        )
    for name in extra:
        if not EXTRA_NAME.fullmatch(name) or name in (*fmt.CORE_FILES, fmt.MANIFEST):
            raise ExportRequestInvalid(
                f"附加文件名无效 / an extra file needs a plain name of its own: {name!r}"
            )


def _until(conn: Connection, lanes: Mapping[int, int]) -> dict[int, fmt.LaneMark]:
    tips = {lane: (height, tip) for lane, height, tip in queries.chain_tips(conn)}
    until = {}
    for lane, height in sorted(lanes.items()):
        if lane not in tips or not 0 <= height <= tips[lane][0]:
            raise ExportRequestInvalid(
                f"通道 {lane} 无高度 {height} / lane {lane} has no height {height} "
                f"(its tip: {tips[lane][0] if lane in tips else 'no such lane'})"
            )
        found = queries.blocks(conn, chain_id=lane, after=(lane, height - 1), limit=1)
        mark = found[0].block_hash if height and found else GENESIS
        until[lane] = fmt.LaneMark(height, mark)
    return until


def _write_accounts(
    conn: Connection, folder: Path
) -> tuple[Kinds, dict[str, date], fmt.FileDigest]:
    out, kinds, opened = _Out(folder, fmt.ACCOUNTS), Kinds(), dict[str, date]()
    for a in queries.accounts(conn):
        out.write(
            fmt.account_line(fmt.ExportAccount(a.account_id, a.kind, a.owner, a.asset, a.opened_at))
        )
        kinds[a.account_id] = (AccountKind(a.kind), Asset(a.asset))
        opened[a.account_id] = bc.booking_day(a.opened_at)
    return kinds, opened, out.close()


def _write_blocks(conn: Connection, folder: Path, lanes: Mapping[int, int]) -> fmt.FileDigest:
    out = _Out(folder, fmt.BLOCKS)
    for b in queries.blocks_until(conn, lanes):
        out.write(
            fmt.block_line(
                fmt.ExportBlock(
                    b.chain_id,
                    b.height,
                    b.prev_hash,
                    b.hash_alg,
                    b.committed_at,
                    b.entry_count,
                    b.block_hash,
                )
            )
        )
    return out.close()


@dataclass
class _Tally:
    """Per account: its balance and the day it is first used; and the last booking day."""

    balances: dict[str, int] = field(default_factory=dict)
    first: dict[str, date] = field(default_factory=dict)
    last_day: date | None = None


def _write_journal(
    conn: Connection,
    folder: Path,
    lanes: Mapping[int, int],
    kinds: Kinds,
    opened: dict[str, date],
    today: date,
) -> list[fmt.FileDigest]:
    """entries.jsonl and ledger.beancount in one pass over the journal: the transactions go to
    a scratch file first, since the opens (the first day of each account) come before them."""
    entries, body_path = _Out(folder, fmt.ENTRIES), folder / ".ledger.beancount.body"
    tally = _Tally(first=dict(opened), balances=dict.fromkeys(opened, 0))
    kind_of: dict[str, AccountKind | None] = {a: k[0] for a, k in kinds.items()}
    with body_path.open("xb") as body:
        for je in queries.journal_until(conn, lanes):
            entry = _entry(je)
            entries.write(
                fmt.entry_line(
                    fmt.ExportEntry(
                        entry, je.chain_id, je.height, je.seq, je.entry_hash, je.reverses
                    )
                )
            )
            day = bc.booking_day(entry.at)
            tally.last_day = day if tally.last_day is None else max(tally.last_day, day)
            for leg in entry.legs:
                tally.balances[leg.account] = tally.balances.get(leg.account, 0) + leg.amount
                tally.first[leg.account] = min(tally.first.get(leg.account, day), day)
                if leg.account not in kinds and (known := member_account_kind(leg.account)):
                    kinds[leg.account] = known
                    kind_of[leg.account] = known[0]
            body.write(
                bc.transaction(
                    entry,
                    chain_id=je.chain_id,
                    height=je.height,
                    entry_hash=je.entry_hash,
                    kinds=kind_of,
                ).encode()
            )
    digests = [entries.close(), _assemble_beancount(folder, body_path, tally, kinds, today)]
    body_path.unlink()
    return digests


def _entry(je: queries.JournalEntry) -> Entry:
    return Entry(
        entry_id=je.entry_id,
        key=je.idem_key,
        body_hash=je.body_hash,
        kind=je.kind,
        at=je.at,
        legs=tuple(Leg(a, Asset(asset), amount, lot) for a, asset, amount, lot in je.legs),
        detail=je.detail,
    )


def _assemble_beancount(
    folder: Path, body_path: Path, tally: _Tally, kinds: Kinds, today: date
) -> fmt.FileDigest:
    out = _Out(folder, fmt.BEANCOUNT)
    first_day = min(tally.first.values(), default=today)
    out.write(bc.header(first_day).encode())
    for account in sorted(tally.first):
        kind, asset = _kind(kinds, account)
        out.write(bc.open_directive(account, kind, asset, tally.first[account]).encode())
    out.write(b"\n")
    with body_path.open("rb") as body:
        while chunk := body.read(1 << 20):
            out.write(chunk)
    # after the last entry and after the last account opened (an account opened after the last
    # entry, on the wall clock of a store that ran on a simulated one, is inactive before that)
    day = bc.assertion_day(max(tally.last_day or today, *tally.first.values()))
    for account in sorted(tally.balances):
        kind, asset = _kind(kinds, account)
        out.write(bc.balance_directive(account, kind, asset, tally.balances[account], day).encode())
    return out.close()


def _kind(kinds: Kinds, account: str) -> tuple[AccountKind | None, Asset]:
    known = kinds.get(account)
    return (known[0], known[1]) if known else (None, Asset.POINTS)


# -- verification --------------------------------------------------------------------------------


@dataclass
class ExportReport:
    """What ``verify_export`` found, and the books it re-derived (None: the manifest is
    unreadable, nothing else was read)."""

    findings: list[Finding]
    books: Books | None
    manifest: fmt.Manifest | None

    @property
    def ok(self) -> bool:
        return not self.findings


ExtraChecks = Callable[[Path, Books], list[Finding]]


def verify_export(out_dir: Path, *, extra_checks: ExtraChecks | None = None) -> ExportReport:
    """Check an export folder from its files alone: the manifest's hashes, sizes and lines; every
    entry and block hash and every chain link from genesis to the manifest's heights; each entry
    balanced; the balances, lanes and the invariant re-derived (``Books``); the Beancount
    assertions equal to them; and then ``extra_checks(out_dir, books)``."""
    report = Report()
    try:
        manifest = fmt.parse_manifest((out_dir / fmt.MANIFEST).read_bytes())
    except (OSError, fmt.LineInvalid) as exc:
        report.add(Finding("export.manifest_invalid", f"{fmt.MANIFEST}: {exc}"))
        return ExportReport(report.findings, None, None)
    _check_files(out_dir, manifest, report)
    accounts = list(_parsed(_lines(out_dir, fmt.ACCOUNTS), fmt.parse_account, fmt.ACCOUNTS, report))
    walk = ExportWalk(accounts, report)
    _walk_chain(out_dir, walk, report)
    books = walk.finish(manifest.until)
    asserted = []
    for raw in _lines(out_dir, fmt.BEANCOUNT):
        found = parse_balance_line(raw.decode(errors="replace").rstrip("\n"))
        if found is not None:
            asserted.append(found)
    check_assertions(books, asserted, report)
    findings = list(report.findings)
    if extra_checks is not None:
        findings += extra_checks(out_dir, books)
    return ExportReport(findings, books, manifest)


def _check_files(out_dir: Path, manifest: fmt.Manifest, report: Report) -> None:
    listed = {f.name for f in manifest.files}
    for name in fmt.CORE_FILES:
        if name not in listed:
            report.add(Finding("export.file_missing", f"the manifest does not list {name}"))
    present = {p.name for p in out_dir.iterdir() if p.is_file()} - {fmt.MANIFEST}
    for name in sorted(present - listed):
        report.add(Finding("export.file_unlisted", f"{name} is not in the manifest"))
    for f in manifest.files:
        path = out_dir / f.name
        if not path.is_file():
            report.add(Finding("export.file_missing", f"{f.name} is listed but not there"))
            continue
        digester = fmt.Digester(f.name)
        with path.open("rb") as file:
            while chunk := file.read(1 << 20):
                digester.update(chunk)
        if digester.digest() != f:
            got = digester.digest()
            report.add(
                Finding(
                    "export.file_mismatch",
                    f"{f.name}: {got.bytes} bytes, {got.lines} lines, sha256 {got.sha256}; "
                    f"the manifest says {f.bytes}, {f.lines}, {f.sha256}",
                )
            )


def _lines(out_dir: Path, name: str) -> Iterator[bytes]:
    """The lines of one file (none if it is missing: ``_check_files`` said so)."""
    path = out_dir / name
    if not path.is_file():
        return
    with path.open("rb") as file:
        yield from file


def _walk_chain(out_dir: Path, walk: ExportWalk, report: Report) -> None:
    """blocks.jsonl and entries.jsonl side by side, both in chain order: each block with the
    entries of its (lane, height)."""
    entries = _parsed(_lines(out_dir, fmt.ENTRIES), fmt.parse_entry, fmt.ENTRIES, report)
    pending: Any = next(entries, None)
    for block in _parsed(_lines(out_dir, fmt.BLOCKS), fmt.parse_block, fmt.BLOCKS, report):
        place = (block.chain_id, block.height)
        while pending is not None and (pending.chain_id, pending.height) < place:
            walk.stray(pending)
            pending = next(entries, None)
        mine = []
        while pending is not None and (pending.chain_id, pending.height) == place:
            mine.append(pending)
            pending = next(entries, None)
        walk.block(block, mine)
    while pending is not None:
        walk.stray(pending)
        pending = next(entries, None)


def _parsed(
    lines: Iterator[bytes], parse: Callable[[bytes], Any], name: str, report: Report
) -> Iterator[Any]:
    for number, raw in enumerate(lines, 1):
        try:
            yield parse(raw)
        except fmt.LineInvalid as exc:
            report.add(Finding("export.line_invalid", f"{name} line {number}: {exc}"))
