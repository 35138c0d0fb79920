"""Transparency (issue 15, being built): proof of liabilities, the pure part. So far ``merkle``,
the Merkle sum tree over members' outstanding points and inclusion proofs (brief §5)."""

from __future__ import annotations

from jifen.transparency.merkle import (
    EMPTY,
    MAX_POINTS,
    Proof,
    ProofInvalid,
    Step,
    SumTree,
    leaf_hash,
    leaf_salt,
    node_hash,
    verify_proof,
)

__all__ = [
    "EMPTY",
    "MAX_POINTS",
    "Proof",
    "ProofInvalid",
    "Step",
    "SumTree",
    "leaf_hash",
    "leaf_salt",
    "node_hash",
    "verify_proof",
]
