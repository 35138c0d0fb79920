"""A Merkle sum tree over members' outstanding points, and inclusion proofs (brief §5), pure.

Every node carries a hash and a sum; a parent's sum is its children's sums added, and its hash
covers both children's hashes *and* sums, so no subtree can claim less than it holds without
changing the root. The root's sum is the published total of outstanding points.

A leaf commits to one member's id and balance under a **salt** known only to the operator and
to that member (``leaf_salt``: a keyed MAC of the member id and the snapshot), so a leaf, or a
sibling in someone else's proof, reveals neither who it is nor — beyond its subtree's sum — what
they hold. Leaves are ordered by their commitment, not by member, so a position says nothing
either.

The encoding is fixed and written out here so that a verifier in any language (and
``tools/verify_proof.py``, on the standard library alone) can recompute it:

- leaf hash = SHA-256(``b"jifen-leaf\\x00"`` ‖ salt (32 bytes) ‖ UTF-8 member id ‖ ``b"\\x00"`` ‖
  balance as 8 bytes big-endian)
- node hash = SHA-256(``b"jifen-node\\x00"`` ‖ left hash ‖ left sum (8 bytes) ‖ right hash ‖ right
  sum (8 bytes))
- an odd node at the end of a level is paired with the empty node: hash =
  SHA-256(``b"jifen-empty"``), sum 0.

Sums are never negative (a negative balance would let one leaf hide another's points), and a
member's own balance must be at most ``MAX_POINTS``.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

MAX_POINTS = 10**15
"""The largest balance a leaf may hold (the ledger's own limit is lower)."""
MAX_SUM = 2**63 - 1
"""A subtree's sum is written as 8 bytes: 2^63 − 1 points at most."""
EMPTY = hashlib.sha256(b"jifen-empty").digest()
_LEAF, _NODE = b"jifen-leaf\x00", b"jifen-node\x00"


class ProofInvalid(ValueError):
    """A proof that does not verify, with the reason in plain words."""


def _sum8(value: int) -> bytes:
    if not 0 <= value <= MAX_SUM:
        raise ProofInvalid(f"a sum out of range: {value}")
    return value.to_bytes(8, "big")


def leaf_salt(key: bytes, snapshot_id: str, member_id: str) -> bytes:
    """The member's salt in one snapshot: only the operator (who holds ``key``) and the member
    (who receives it in their proof) know it."""
    return hmac.new(key, f"{snapshot_id}\x00{member_id}".encode(), hashlib.sha256).digest()


def leaf_hash(salt: bytes, member_id: str, balance: int) -> bytes:
    if len(salt) != 32:
        raise ProofInvalid("a salt is 32 bytes")
    if not 0 <= balance <= MAX_POINTS:
        raise ProofInvalid(f"a balance out of range: {balance}")
    return hashlib.sha256(
        _LEAF + salt + member_id.encode() + b"\x00" + balance.to_bytes(8, "big")
    ).digest()


def node_hash(left: tuple[bytes, int], right: tuple[bytes, int]) -> bytes:
    return hashlib.sha256(_NODE + left[0] + _sum8(left[1]) + right[0] + _sum8(right[1])).digest()


@dataclass(frozen=True)
class Step:
    """One sibling on the way up: its hash and sum, and which side of the path it is on."""

    side: Literal["left", "right"]
    hash: bytes
    sum: int


@dataclass(frozen=True)
class Proof:
    member_id: str
    balance: int
    salt: bytes
    path: tuple[Step, ...]
    root_hash: bytes
    total: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "member_id": self.member_id,
            "balance": self.balance,
            "salt": self.salt.hex(),
            "path": [{"side": s.side, "hash": s.hash.hex(), "sum": s.sum} for s in self.path],
            "root": {"hash": self.root_hash.hex(), "sum": self.total},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Proof:
        try:
            return cls(
                member_id=str(data["member_id"]),
                balance=int(data["balance"]),
                salt=bytes.fromhex(data["salt"]),
                path=tuple(
                    Step(s["side"], bytes.fromhex(s["hash"]), int(s["sum"])) for s in data["path"]
                ),
                root_hash=bytes.fromhex(data["root"]["hash"]),
                total=int(data["root"]["sum"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ProofInvalid(f"not a proof: {type(exc).__name__}: {exc}") from exc


class SumTree:
    """The whole tree, level by level (leaves first), for building the root and every proof.

    ``leaves``: (member id, balance, salt) for every member with outstanding points."""

    def __init__(self, leaves: Sequence[tuple[str, int, bytes]]) -> None:
        nodes = sorted((leaf_hash(s, m, b), b, m, s) for m, b, s in leaves)
        self._leaf_data = {m: (b, s, i) for i, (_, b, m, s) in enumerate(nodes)}
        level = [(h, b) for h, b, _, _ in nodes] or [(EMPTY, 0)]
        self.levels: list[list[tuple[bytes, int]]] = [level]
        while len(level) > 1:
            if len(level) % 2:
                level = [*level, (EMPTY, 0)]
                self.levels[-1] = level
            level = [
                (node_hash(level[i], level[i + 1]), level[i][1] + level[i + 1][1])
                for i in range(0, len(level), 2)
            ]
            self.levels.append(level)

    @property
    def root(self) -> tuple[bytes, int]:
        return self.levels[-1][0]

    @property
    def members(self) -> int:
        return len(self._leaf_data)

    def proof(self, member_id: str) -> Proof:
        """The member's inclusion proof: their leaf's data and one sibling per level."""
        balance, salt, index = self._leaf_data[member_id]
        path = []
        for level in self.levels[:-1]:
            sibling = index ^ 1
            h, s = level[sibling]
            path.append(Step("left" if sibling < index else "right", h, s))
            index //= 2
        root_hash, total = self.root
        return Proof(member_id, balance, salt, tuple(path), root_hash, total)


def verify_proof(proof: Proof, root_hash: bytes, total: int) -> None:
    """Check that ``proof`` puts the member's balance under the published root and total;
    raise ``ProofInvalid`` naming what does not hold."""
    node = (leaf_hash(proof.salt, proof.member_id, proof.balance), proof.balance)
    for step in proof.path:
        if step.sum < 0:
            raise ProofInvalid("a sibling claims a negative sum")
        sibling = (step.hash, step.sum)
        pair = (sibling, node) if step.side == "left" else (node, sibling)
        node = (node_hash(*pair), node[1] + step.sum)
    if node[0] != root_hash:
        raise ProofInvalid("the path does not lead to the published root")
    if node[1] != total:
        raise ProofInvalid(f"the sums come to {node[1]}, not the published total {total}")
    if (proof.root_hash, proof.total) != (root_hash, total):
        raise ProofInvalid("the proof names another root than the published one")
