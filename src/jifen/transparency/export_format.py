"""The audit export's line format (issue 15), pure: one canonical JSON object per line, and the
manifest that pins every file by its SHA-256, size and line count (docs/audit-export.md).

A line is written with the chain's own canonical encoding (``chain.canonical``: sorted keys, no
spaces, UTF-8, times as UTC text), so an entry's line holds exactly the document its hash covers
(``chain.entry_document``) plus its place in the chain, and a reader in any language recomputes
every entry and block hash from the lines alone. The parsers here turn lines back into plain
values (``jifen.ledger.model.Entry`` for entries) and refuse, with ``LineInvalid``, anything that
is not what the writer writes: the checker reports it as a finding, never guesses.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from jifen.ledger.chain import canonical, entry_document, utc_text
from jifen.ledger.model import Asset, Entry, Leg

FORMAT = "jifen-audit-export/1"
BLOCKS, ENTRIES, ACCOUNTS, BEANCOUNT, MANIFEST = (
    "blocks.jsonl",
    "entries.jsonl",
    "accounts.jsonl",
    "ledger.beancount",
    "manifest.json",
)
CORE_FILES = (BLOCKS, ENTRIES, ACCOUNTS, BEANCOUNT)
"""The files every export has; others (``extra``) are listed in the manifest beside them."""


class LineInvalid(ValueError):
    """A line (or the manifest) that is not what the export writes."""


def line(document: Mapping[str, Any]) -> bytes:
    return canonical(dict(document)) + b"\n"


# -- blocks ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ExportBlock:
    """A block as exported (the same fields as the ``blocks`` table, which ``_checks`` reads)."""

    chain_id: int
    height: int
    prev_hash: str
    hash_alg: str
    committed_at: datetime
    entry_count: int
    block_hash: str


def block_line(block: ExportBlock) -> bytes:
    return line(
        {
            "chain_id": block.chain_id,
            "height": block.height,
            "prev_hash": block.prev_hash,
            "hash_alg": block.hash_alg,
            "committed_at": block.committed_at,
            "entry_count": block.entry_count,
            "block_hash": block.block_hash,
        }
    )


def parse_block(raw: bytes) -> ExportBlock:
    d = _object(raw, {"chain_id", "height", "prev_hash", "hash_alg", "committed_at"})
    return ExportBlock(
        chain_id=_int(d, "chain_id"),
        height=_int(d, "height"),
        prev_hash=_str(d, "prev_hash"),
        hash_alg=_str(d, "hash_alg"),
        committed_at=parse_time(_str(d, "committed_at")),
        entry_count=_int(d, "entry_count"),
        block_hash=_str(d, "block_hash"),
    )


# -- entries ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ExportEntry:
    """An entry as exported: the hashed document (``entry``) and its place in the chain."""

    entry: Entry
    chain_id: int
    height: int
    seq: int
    entry_hash: str
    reverses: str | None = None


def entry_line(e: ExportEntry) -> bytes:
    return line(
        {
            **entry_document(e.entry),
            "chain_id": e.chain_id,
            "height": e.height,
            "seq": e.seq,
            "entry_hash": e.entry_hash,
            "reverses": e.reverses,
        }
    )


def parse_entry(raw: bytes) -> ExportEntry:
    d = _object(raw, {"id", "key", "body", "kind", "at", "detail", "legs", "chain_id", "height"})
    detail, legs = d["detail"], d["legs"]
    if not isinstance(detail, dict) or not isinstance(legs, list):
        raise LineInvalid("detail must be an object and legs a list")
    entry = Entry(
        entry_id=_str(d, "id"),
        key=_str(d, "key"),
        body_hash=_str(d, "body"),
        kind=_str(d, "kind"),
        at=parse_time(_str(d, "at")),
        legs=tuple(_leg(leg) for leg in legs),
        detail=detail,
    )
    reverses = d.get("reverses")
    if reverses is not None and not isinstance(reverses, str):
        raise LineInvalid("reverses must be an entry id or null")
    return ExportEntry(
        entry,
        _int(d, "chain_id"),
        _int(d, "height"),
        _int(d, "seq"),
        _str(d, "entry_hash"),
        reverses,
    )


def _leg(value: Any) -> Leg:
    if not isinstance(value, list) or len(value) != 4:
        raise LineInvalid("a leg is [account, asset, amount, lot id]")
    account, asset, amount, lot_id = value
    if not isinstance(account, str) or asset not in Asset.__members__:
        raise LineInvalid(f"a leg names account {account!r} and asset {asset!r}")
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise LineInvalid("a leg's amount is a whole number (points or fen)")
    if lot_id is not None and not isinstance(lot_id, str):
        raise LineInvalid("a leg's lot id is text or null")
    return Leg(account, Asset(asset), amount, lot_id)


# -- accounts --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ExportAccount:
    """A registered account (merchants' and the system's; members' follow from their names)."""

    account_id: str
    kind: str
    owner: str | None
    asset: str
    opened_at: datetime


def account_line(a: ExportAccount) -> bytes:
    return line(
        {
            "account_id": a.account_id,
            "kind": a.kind,
            "owner": a.owner,
            "asset": a.asset,
            "opened_at": a.opened_at,
        }
    )


def parse_account(raw: bytes) -> ExportAccount:
    d = _object(raw, {"account_id", "kind", "asset", "opened_at"})
    owner = d.get("owner")
    if owner is not None and not isinstance(owner, str):
        raise LineInvalid("owner must be text or null")
    return ExportAccount(
        _str(d, "account_id"),
        _str(d, "kind"),
        owner,
        _str(d, "asset"),
        parse_time(_str(d, "opened_at")),
    )


# -- the manifest ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FileDigest:
    name: str
    sha256: str
    bytes: int
    lines: int


@dataclass(frozen=True, slots=True)
class LaneMark:
    """How far a lane is exported: its last block (height 0 and ``GENESIS``: none of it)."""

    height: int
    block_hash: str


@dataclass(frozen=True, slots=True)
class Manifest:
    created_at: datetime
    hash_alg: str
    until: Mapping[int, LaneMark]
    files: tuple[FileDigest, ...]
    format: str = FORMAT

    def file(self, name: str) -> FileDigest | None:
        return next((f for f in self.files if f.name == name), None)


def manifest_bytes(m: Manifest) -> bytes:
    return line(
        {
            "format": m.format,
            "created_at": m.created_at,
            "hash_alg": m.hash_alg,
            "until": [
                {"chain_id": lane, "height": mark.height, "block_hash": mark.block_hash}
                for lane, mark in sorted(m.until.items())
            ],
            "files": [
                {"name": f.name, "sha256": f.sha256, "bytes": f.bytes, "lines": f.lines}
                for f in sorted(m.files, key=lambda f: f.name)
            ],
        }
    )


def parse_manifest(raw: bytes) -> Manifest:
    d = _object(raw, {"format", "created_at", "hash_alg", "until", "files"})
    if d["format"] != FORMAT:
        raise LineInvalid(f"format {d['format']!r}, this reader knows {FORMAT}")
    try:
        until = {
            _int(u, "chain_id"): LaneMark(_int(u, "height"), _str(u, "block_hash"))
            for u in d["until"]
        }
        files = tuple(
            FileDigest(_str(f, "name"), _str(f, "sha256"), _int(f, "bytes"), _int(f, "lines"))
            for f in d["files"]
        )
    except (TypeError, KeyError) as exc:
        raise LineInvalid(f"manifest until/files malformed: {exc}") from exc
    return Manifest(parse_time(_str(d, "created_at")), _str(d, "hash_alg"), until, files)


@dataclass
class Digester:
    """SHA-256, size and line count of a file as it is written or read, a chunk at a time."""

    name: str
    _sha: Any = field(default_factory=hashlib.sha256)
    size: int = 0
    lines: int = 0

    def update(self, chunk: bytes) -> None:
        self._sha.update(chunk)
        self.size += len(chunk)
        self.lines += chunk.count(b"\n")

    def digest(self) -> FileDigest:
        return FileDigest(self.name, self._sha.hexdigest(), self.size, self.lines)


# -- shared ----------------------------------------------------------------------------------------


def parse_time(text: str) -> datetime:
    """UTC text as ``chain.utc_text`` writes it, and only that (so it hashes the same again)."""
    try:
        moment = datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    except ValueError as exc:
        raise LineInvalid(f"time {text!r} is not UTC text YYYY-MM-DDTHH:MM:SS.ffffffZ") from exc
    if utc_text(moment) != text:
        raise LineInvalid(f"time {text!r} is not in its one spelling")
    return moment


def _object(raw: bytes, required: set[str]) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise LineInvalid(f"not JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise LineInvalid("a line is one JSON object")
    missing = sorted(required - set(value))
    if missing:
        raise LineInvalid(f"missing {', '.join(missing)}")
    return value


def _int(d: Mapping[str, Any], name: str) -> int:
    value = d.get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise LineInvalid(f"{name} must be a whole number")
    return value


def _str(d: Mapping[str, Any], name: str) -> str:
    value = d.get(name)
    if not isinstance(value, str):
        raise LineInvalid(f"{name} must be text")
    return value
