"""Checking what a member or an auditor kept — a proof file, a checkpoint file — without
trusting the operator's server: the proof's path must lead to the root and total named by a
published checkpoint, and that checkpoint's signature must hold (docs/transparency.md).
``jifen audit check-proof`` and ``check-checkpoint`` print what these return."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jifen.proofs.errors import CheckpointMalformed, SignatureInvalid, SignatureUnchecked
from jifen.proofs.signing import verify_signature
from jifen.transparency import Proof, ProofInvalid, verify_proof
from jifen.transparency import checkpoint as cp

MAX_FILE = 1 << 20  # a proof is a few kB; a checkpoint with 10,000 lanes under a megabyte


@dataclass(frozen=True)
class Verdict:
    """What a check found: ``included`` (the proof leads to the root and total) and
    ``signature`` ("valid", "invalid: …", "not checked: …"); ``ok`` only if both hold."""

    member_id: str
    balance: int
    seq: int
    root: str
    total: int
    included: str | None  # None: included; else why not
    signature: str
    key_id: str

    @property
    def ok(self) -> bool:
        return self.included is None and self.signature == "valid"


def read_json(path: Path) -> dict[str, Any]:
    """A kept file as JSON, or ``CheckpointMalformed`` naming the file and what is wrong."""
    try:
        if path.stat().st_size > MAX_FILE:
            raise CheckpointMalformed(f"{path}: 文件过大 / too large for a proof or checkpoint")
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointMalformed(f"{path}: 无法读取 / cannot be read: {exc}") from exc
    if not isinstance(value, dict):
        raise CheckpointMalformed(f"{path}: 不是 JSON 对象 / not a JSON object")
    return value


def signed_checkpoint(published: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(document, signature) of a published checkpoint or a proof file."""
    try:
        return cp.parse(published.get("checkpoint")), dict(published["signature"])
    except (cp.CheckpointMalformed, KeyError, TypeError, ValueError) as exc:
        raise CheckpointMalformed(f"不是已签名的检查点 / not a signed checkpoint: {exc}") from exc


def signature_state(document: dict[str, Any], signature: dict[str, Any], key: str | None) -> str:
    """ "valid", or why not; ``key`` (hex) pins the operator's public key when given."""
    if key is not None and signature.get("public_key") != key.lower():
        return "invalid: signed by another key than the one given"
    try:
        verify_signature(document, signature)
    except SignatureUnchecked as exc:
        return f"not checked: {exc.message}"
    except SignatureInvalid as exc:
        return f"invalid: {exc.message}"
    return "valid"


def check_proof(
    file: dict[str, Any],
    *,
    root: str | None = None,
    total: int | None = None,
    kept: dict[str, Any] | None = None,
    public_key: str | None = None,
) -> Verdict:
    """Check a proof file against the root and total given (copied from the public page), or a
    checkpoint kept earlier (``kept``), else the checkpoint inside the file — whose signature is
    checked in every case."""
    document, signature = signed_checkpoint(kept if kept is not None else file)
    inner, _ = signed_checkpoint(file)
    if kept is not None and inner != document:
        raise CheckpointMalformed(
            "证明所附检查点与保存的不同 / the proof's checkpoint is not the one kept"
        )
    try:
        proof = Proof.from_dict(file["proof"])
    except (KeyError, TypeError, ProofInvalid) as exc:
        raise CheckpointMalformed(f"不是证明文件 / not a proof file: {exc}") from exc
    snap = document["snapshot"]
    want_root = (root or snap["root"]).lower()
    want_total = snap["total"] if total is None else total
    included = None
    if (want_root, want_total) != (snap["root"], snap["total"]):
        included = "the root and total given are not the checkpoint's"
    else:
        try:
            verify_proof(proof, bytes.fromhex(want_root), want_total)
        except (ProofInvalid, ValueError) as exc:
            included = str(exc)
    return Verdict(
        proof.member_id,
        proof.balance,
        document["seq"],
        want_root,
        want_total,
        included,
        signature_state(document, signature, public_key),
        str(signature.get("key_id", "")),
    )
