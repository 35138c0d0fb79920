"""Proofs anyone can check (issue 15, docs/transparency.md), the store half: liability
snapshots and their signed checkpoints (``snapshots``), the append-only feed, members' proofs and
checking a kept checkpoint against the journal (``feed``), the operator's signing key
(``signing``), and the auditor's export (``export``). The pure half is ``jifen.transparency``."""

from __future__ import annotations

from jifen.proofs.errors import (
    CheckpointMalformed,
    CheckpointNotFound,
    ProofNotFound,
    SnapshotTotalsDiffer,
)
from jifen.proofs.feed import (
    PROOF_FORMAT,
    check_feed,
    compare_with_journal,
    get_checkpoint,
    latest_checkpoint,
    list_checkpoints,
    member_proof,
)
from jifen.proofs.snapshots import KEEP_TREES, Checkpoint, signing_key, take_checkpoint

__all__ = [
    "KEEP_TREES",
    "PROOF_FORMAT",
    "Checkpoint",
    "CheckpointMalformed",
    "CheckpointNotFound",
    "ProofNotFound",
    "SnapshotTotalsDiffer",
    "check_feed",
    "compare_with_journal",
    "get_checkpoint",
    "latest_checkpoint",
    "list_checkpoints",
    "member_proof",
    "signing_key",
    "take_checkpoint",
]
