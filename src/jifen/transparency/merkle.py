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
from collections.abc import Callable, Iterable
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
    return hmac.digest(key, f"{snapshot_id}\x00{member_id}".encode(), "sha256")


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


RECORD = 40
"""A node as stored and hashed: its hash (32 bytes) and its sum (8 bytes, big-endian)."""
_EMPTY_RECORD = EMPTY + bytes(8)


def record_at(level: bytes, index: int) -> tuple[bytes, int]:
    """The (hash, sum) of node ``index`` of one level's records."""
    record = level[index * RECORD : (index + 1) * RECORD]
    if len(record) != RECORD:
        raise IndexError(index)
    return record[:32], int.from_bytes(record[32:], "big")


def parent_level(level: bytes) -> bytes:
    """The level above ``level`` (an even number of records): each pair hashed as one node.

    A level is kept as concatenated 40-byte records, which is both what a node's hash covers
    (``node_hash`` of a pair is SHA-256 of the tag and the pair's 80 bytes) and what the store
    keeps, so a million leaves take 40 MB, not a million Python objects."""
    out = bytearray()
    sha256 = hashlib.sha256
    for i in range(0, len(level), 2 * RECORD):
        pair = level[i : i + 2 * RECORD]
        total = int.from_bytes(pair[32:40], "big") + int.from_bytes(pair[72:80], "big")
        out += sha256(_NODE + pair).digest() + _sum8(total)
    return bytes(out)


def path_of(index: int, depth: int, node: Callable[[int, int], tuple[bytes, int]]) -> list[Step]:
    """The siblings from leaf ``index`` up to (not including) the root of a tree with ``depth``
    levels; ``node(level, i)`` reads one node, from memory or from the store."""
    path = []
    for level in range(depth - 1):
        sibling = index ^ 1
        h, s = node(level, sibling)
        path.append(Step("left" if sibling < index else "right", h, s))
        index //= 2
    return path


def depth(leaves: int) -> int:
    """How many levels a tree of ``leaves`` leaves has (a proof has one step fewer)."""
    levels, count = 1, max(leaves, 1)
    while count > 1:
        count, levels = (count + 1) // 2, levels + 1
    return levels


class SumTree:
    """The whole tree, level by level (leaves first), for building the root and every proof.

    ``leaves``: (member id, balance, salt) for every member counted. ``levels[k]`` holds level
    ``k``'s records, an odd level padded with the empty node; ``order[i]`` is the member whose
    leaf is at index ``i`` (leaves sorted by their hash)."""

    def __init__(self, leaves: Iterable[tuple[str, int, bytes]]) -> None:
        records = sorted(
            leaf_hash(salt, member, balance) + _sum8(balance) + member.encode()
            for member, balance, salt in leaves
        )
        self.order = [r[RECORD:].decode() for r in records]
        if len(set(self.order)) != len(self.order):
            raise ProofInvalid("a member is counted twice")
        level = b"".join(r[:RECORD] for r in records) or _EMPTY_RECORD
        del records
        self.levels: list[bytes] = []
        while len(level) > RECORD:
            if len(level) // RECORD % 2:
                level += _EMPTY_RECORD
            self.levels.append(level)
            level = parent_level(level)
        self.levels.append(level)
        self._index: dict[str, int] | None = None

    @property
    def root(self) -> tuple[bytes, int]:
        return record_at(self.levels[-1], 0)

    @property
    def members(self) -> int:
        return len(self.order)

    def index_of(self, member_id: str) -> int:
        if self._index is None:
            self._index = {m: i for i, m in enumerate(self.order)}
        return self._index[member_id]

    def proof(self, member_id: str, salt: bytes) -> Proof:
        """The member's inclusion proof: their leaf's data and one sibling per level."""
        index = self.index_of(member_id)
        _, balance = record_at(self.levels[0], index)
        path = path_of(index, len(self.levels), lambda k, i: record_at(self.levels[k], i))
        root_hash, total = self.root
        proof = Proof(member_id, balance, salt, tuple(path), root_hash, total)
        if leaf_hash(salt, member_id, balance) != record_at(self.levels[0], index)[0]:
            raise ProofInvalid("the salt is not this member's in this tree")
        return proof


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
