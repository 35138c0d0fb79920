"""A verified checkpoint: how far each lane was verified, with what hash algorithm, and the
invariant's running totals at that point, as one small JSON document (pure: text in, text out).

``jifen verify --checkpoint FILE`` writes one after a clean run; ``--resume FILE`` starts from it
(docs/ledger.md, "Verifying"). Its size depends on the number of lanes only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from jifen.ledger._rederive import TOTALS, LaneTip, Report
from jifen.ledger.chain import HASH_ALGORITHMS, utc_text

FORMAT = "jifen-verify-checkpoint/1"
MAX_LANES = 10_000


@dataclass(frozen=True, slots=True)
class Checkpoint:
    hash_alg: str
    verified_at: str  # UTC text
    lanes: dict[int, LaneTip]
    totals: dict[str, int]  # ``TOTALS``: the invariant's figures over the lanes up to ``lanes``

    @classmethod
    def of(cls, report: Report, now: datetime) -> Checkpoint:
        """The checkpoint a clean run's report stands for."""
        assert report.ok, "only a clean run is a checkpoint"
        totals = {k: report.totals[k] for k in TOTALS}
        return cls(report.hash_alg, utc_text(now), dict(report.lanes), totals)

    def text(self) -> str:
        lanes = [
            {"chain_id": c, "height": t.height, "block_hash": t.block_hash, "entries": t.entries}
            for c, t in sorted(self.lanes.items())
        ]
        document = {
            "format": FORMAT,
            "hash_alg": self.hash_alg,
            "verified_at": self.verified_at,
            "lanes": lanes,
            "totals": self.totals,
        }
        return json.dumps(document, indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        """A checkpoint from its text; ``ValueError`` saying what is wrong with it."""
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"not JSON ({exc.msg}, line {exc.lineno})") from exc
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise ValueError(f"not a verify checkpoint (format must be {FORMAT})")
        if doc.get("hash_alg") not in HASH_ALGORITHMS:
            raise ValueError(f"hash_alg must be one of {', '.join(HASH_ALGORITHMS)}")
        if not isinstance(doc.get("verified_at"), str):
            raise ValueError("verified_at must be a time")
        lanes, totals = doc.get("lanes"), doc.get("totals")
        if not isinstance(lanes, list) or len(lanes) > MAX_LANES:
            raise ValueError("lanes must be a list")
        if not isinstance(totals, dict) or set(totals) != set(TOTALS):
            raise ValueError(f"totals must give exactly {', '.join(TOTALS)}")
        if not all(_whole(v) for v in totals.values()):
            raise ValueError("totals must be whole numbers")
        tips = dict(_lane(lane) for lane in lanes)
        if len(tips) != len(lanes):
            raise ValueError("a lane is listed twice")
        return cls(doc["hash_alg"], doc["verified_at"], tips, dict(totals))


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _lane(lane: Any) -> tuple[int, LaneTip]:
    fields = ("chain_id", "height", "block_hash", "entries")
    if not isinstance(lane, dict) or set(lane) != set(fields):
        raise ValueError(f"each lane gives exactly {', '.join(fields)}")
    chain_id, height, block_hash, entries = (lane[f] for f in fields)
    if not (_whole(chain_id) and _whole(height) and _whole(entries)) or min(height, entries) < 0:
        raise ValueError("a lane's chain_id, height and entries must be whole numbers")
    if not isinstance(block_hash, str) or len(block_hash) != 64:
        raise ValueError("a lane's block_hash must be 64 hex digits")
    return chain_id, LaneTip(height, block_hash, entries)
