"""Tamper evidence: the canonical encoding of entries and blocks, and their hashes.

An entry's hash covers everything it says (id, key, kind, time, detail, every leg). A block is the
batch of entries committed in one transaction; its hash covers its chain lane, height, the previous
block's hash in that lane, the commit time and the entry hashes in order. Lanes let concurrent
writers append without waiting on one tip (and map one-to-one onto shards later). Anyone with read
access can recompute every hash from the rows alone; docs/ledger.md gives the encoding.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from jifen.ledger.errors import UnsupportedHash
from jifen.ledger.model import Entry

HASH_ALGORITHMS = ("sha256", "sm3")
GENESIS = "0" * 64


def digest(algorithm: str, data: bytes) -> str:
    """Hex digest with SHA-256, or SM3 (国密) from the platform's OpenSSL."""
    if algorithm not in HASH_ALGORITHMS:
        raise UnsupportedHash(f"hash algorithm must be one of {', '.join(HASH_ALGORITHMS)}")
    try:
        return hashlib.new(algorithm, data).hexdigest()
    except ValueError as exc:  # an OpenSSL build without SM3
        raise UnsupportedHash(f"this Python's OpenSSL does not provide {algorithm}") from exc


def utc_text(moment: datetime) -> str:
    """One spelling per instant: UTC, microseconds, ``Z`` (so hashes do not depend on zones)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _encode_time(value: Any) -> str:
    if isinstance(value, datetime):
        return utc_text(value)
    raise TypeError(f"cannot encode {type(value).__name__} canonically")


def canonical(value: Any) -> bytes:
    """Canonical JSON: sorted keys, no spaces, UTF-8, datetimes as UTC text."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_encode_time
    ).encode()


def entry_document(entry: Entry) -> dict[str, Any]:
    return {
        "id": entry.entry_id,
        "key": entry.key,
        "body": entry.body_hash,
        "kind": entry.kind,
        "at": entry.at,
        "detail": dict(entry.detail),
        "legs": [[leg.account, leg.asset.value, leg.amount, leg.lot_id] for leg in entry.legs],
    }


def entry_hash(algorithm: str, entry: Entry) -> str:
    return digest(algorithm, canonical(entry_document(entry)))


def block_hash(
    algorithm: str,
    *,
    chain_id: int,
    height: int,
    prev_hash: str,
    committed_at: datetime,
    entry_hashes: Sequence[str],
) -> str:
    return digest(
        algorithm,
        canonical(
            {
                "alg": algorithm,
                "chain": chain_id,
                "height": height,
                "prev": prev_hash,
                "at": committed_at,
                "entries": list(entry_hashes),
            }
        ),
    )


def body_hash(body: dict[str, Any]) -> str:
    """Binds an idempotency key to its request; always SHA-256 (it is not part of the chain)."""
    return hashlib.sha256(canonical(body)).hexdigest()


def entry_id_for(key: str) -> str:
    """Entry ids derive from idempotency keys: unique without a global sequence, shard-friendly."""
    return hashlib.sha256(b"jifen-entry\x00" + key.encode()).hexdigest()[:32]
