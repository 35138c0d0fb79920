"""The checkpoint document: what the operator signs and publishes after each liability snapshot
(brief §5), pure.

A checkpoint says, for one instant: how far every chain lane of the journal had grown (height
and block hash of its tip), the Merkle sum root and total of members' outstanding points at that
very point, the reserve that covered them, and the hash of the previous checkpoint, so the feed
of checkpoints is itself a chain. Anyone who kept a signed checkpoint can later ask the store
for the block at each named height: a history rewritten since — even with every later hash
recomputed, which ``jifen verify`` alone cannot tell from the truth — shows a different hash
there (``diverged``).

The signed message is the document's canonical JSON (``jifen.ledger.chain.canonical``: sorted
keys, no spaces, UTF-8), which holds ASCII only, so any JSON library re-encodes it identically.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from jifen.ledger.chain import GENESIS, HASH_ALGORITHMS, canonical

FORMAT = "jifen-checkpoint/1"
MAX_LANES = 10_000
_HEX64 = re.compile(r"[0-9a-f]{64}")
_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")
_DAY = re.compile(r"\d{4}-\d\d-\d\d")


class CheckpointMalformed(ValueError):
    """A document that is not a checkpoint, with what is wrong in plain words."""


@dataclass(frozen=True, slots=True)
class Tip:
    """One lane's last block at the checkpoint."""

    chain_id: int
    height: int
    block_hash: str


@dataclass(frozen=True, slots=True)
class Figures:
    """The snapshot the checkpoint carries."""

    root: str  # hex
    total: int  # outstanding points, the root's sum
    members: int
    reserve_fen: int
    liability_fen: int


def document(
    *,
    seq: int,
    taken_at: str,
    business_date: str | None,
    hash_alg: str,
    tips: list[Tip],
    figures: Figures,
    prev: str,
) -> dict[str, Any]:
    """The document for checkpoint ``seq``; ``prev`` is ``digest`` of checkpoint ``seq - 1``
    (``GENESIS`` for the first)."""
    doc = {
        "format": FORMAT,
        "seq": seq,
        "taken_at": taken_at,
        "business_date": business_date,
        "hash_alg": hash_alg,
        "lanes": [
            {"chain_id": t.chain_id, "height": t.height, "block_hash": t.block_hash}
            for t in sorted(tips, key=lambda t: t.chain_id)
        ],
        "snapshot": {
            "root": figures.root,
            "total": figures.total,
            "members": figures.members,
            "reserve_fen": figures.reserve_fen,
            "liability_fen": figures.liability_fen,
        },
        "prev": prev,
    }
    return parse(doc)


def digest(doc: dict[str, Any]) -> str:
    """The checkpoint's own hash: what the next one names as ``prev``."""
    return hashlib.sha256(canonical(doc)).hexdigest()


def tips(doc: dict[str, Any]) -> list[Tip]:
    return [Tip(x["chain_id"], x["height"], x["block_hash"]) for x in doc["lanes"]]


def figures(doc: dict[str, Any]) -> Figures:
    return Figures(**doc["snapshot"])


def parse(doc: Any) -> dict[str, Any]:
    """``doc`` if it is a well-formed checkpoint document, else ``CheckpointMalformed``."""
    keys = {"format", "seq", "taken_at", "business_date", "hash_alg", "lanes", "snapshot", "prev"}
    if not isinstance(doc, dict) or set(doc) != keys or doc["format"] != FORMAT:
        raise CheckpointMalformed(f"not a checkpoint (format {FORMAT} with exactly {sorted(keys)})")
    _check(_whole(doc["seq"]) and doc["seq"] >= 1, "seq must be a whole number from 1")
    _check(isinstance(doc["taken_at"], str) and _TIME.fullmatch(doc["taken_at"]), "taken_at")
    day = doc["business_date"]
    _check(day is None or (isinstance(day, str) and _DAY.fullmatch(day)), "business_date")
    _check(doc["hash_alg"] in HASH_ALGORITHMS, "hash_alg must be sha256 or sm3")
    _check(isinstance(doc["prev"], str) and _HEX64.fullmatch(doc["prev"]), "prev: 64 hex digits")
    lanes = doc["lanes"]
    _check(isinstance(lanes, list) and 0 < len(lanes) <= MAX_LANES, "lanes must be a list")
    for lane in lanes:
        _check(isinstance(lane, dict) and set(lane) == {"chain_id", "height", "block_hash"}, "lane")
        _check(_whole(lane["chain_id"]) and _whole(lane["height"]), "a lane's numbers")
        _check(lane["height"] >= 0, "a lane's height is never negative")
        _check(isinstance(lane["block_hash"], str), "a lane's block_hash")
        _check(bool(_HEX64.fullmatch(lane["block_hash"])), "a lane's block_hash: 64 hex digits")
    ids = [lane["chain_id"] for lane in lanes]
    _check(ids == sorted(set(ids)), "lanes listed once each, by chain_id")
    snap = doc["snapshot"]
    names = {"root", "total", "members", "reserve_fen", "liability_fen"}
    _check(isinstance(snap, dict) and set(snap) == names, f"snapshot gives exactly {names}")
    _check(isinstance(snap["root"], str) and _HEX64.fullmatch(snap["root"]), "snapshot root")
    for name in names - {"root"}:
        _check(_whole(snap[name]) and snap[name] >= 0, f"snapshot {name}: a whole number ≥ 0")
    return doc


def diverged(doc: dict[str, Any], block_hash_at: Callable[[int, int], str | None]) -> list[str]:
    """Where the journal now differs from what checkpoint ``doc`` signed: for each lane, the
    block at the signed height must exist with the signed hash (``block_hash_at(chain, height)``
    reads it; height 0 is the lane's empty start, ``GENESIS``)."""
    found = []
    for tip in tips(doc):
        now = GENESIS if tip.height == 0 else block_hash_at(tip.chain_id, tip.height)
        if now is None:
            found.append(
                f"lane {tip.chain_id}: block {tip.height} signed in checkpoint {doc['seq']} "
                "is missing"
            )
        elif now != tip.block_hash:
            found.append(
                f"lane {tip.chain_id}: block {tip.height} is now {now[:16]}…, checkpoint "
                f"{doc['seq']} signed {tip.block_hash[:16]}… — history was rewritten"
            )
    return found


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check(ok: Any, what: str) -> None:
    if not ok:
        raise CheckpointMalformed(f"not a checkpoint: {what}")
