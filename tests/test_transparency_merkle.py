"""The Merkle sum tree and members' inclusion proofs (issue 15, first part): every member's proof
verifies; a changed balance, a dropped member or a changed total does not; a proof shows only
its siblings' hashes and sums, never another member's id or balance; a proof grows as log₂ n;
and the standalone verifier in tools/ (standard library only) agrees with the package."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import runpy
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jifen.transparency import Proof, ProofInvalid, Step, SumTree, leaf_salt, verify_proof

KEY = b"snapshot-key-for-tests-32-bytes!"
TOOL = Path(__file__).resolve().parents[1] / "tools" / "verify_proof.py"


def _tree(balances: dict[str, int], snapshot: str = "s1") -> SumTree:
    return SumTree([(m, b, leaf_salt(KEY, snapshot, m)) for m, b in balances.items()])


def _proof(tree: SumTree, member_id: str, snapshot: str = "s1") -> Proof:
    return tree.proof(member_id, leaf_salt(KEY, snapshot, member_id))


BALANCES = {f"m{i:04d}": (i * 7919) % 5003 for i in range(1000)}


@pytest.fixture(scope="module")
def tree() -> SumTree:
    return _tree(BALANCES)


def test_each_of_a_thousand_members_proof_verifies_against_the_root_and_total(
    tree: SumTree,
) -> None:
    root, total = tree.root
    assert total == sum(BALANCES.values()) and tree.members == 1000
    for member_id, balance in BALANCES.items():
        proof = _proof(tree, member_id)
        assert proof.balance == balance
        verify_proof(Proof.from_dict(json.loads(json.dumps(proof.as_dict()))), root, total)


def test_a_changed_balance_a_dropped_member_or_a_changed_total_fails(tree: SumTree) -> None:
    root, total = tree.root
    proof = _proof(tree, "m0042")
    with pytest.raises(ProofInvalid, match="root"):
        verify_proof(dataclasses.replace(proof, balance=proof.balance + 1), root, total)
    with pytest.raises(ProofInvalid, match="total"):
        verify_proof(proof, root, total + 1)
    # the operator publishes a tree without one member: that member's proof (from the full
    # tree) does not verify against it, and no proof for them can be made from it
    dropped = _tree({m: b for m, b in BALANCES.items() if m != "m0042"})
    with pytest.raises(ProofInvalid):
        verify_proof(proof, *dropped.root)
    with pytest.raises(KeyError):
        _proof(dropped, "m0042")
    # understating a sibling's sum to shrink the total breaks the hash above it
    first = proof.path[0]
    cheat = dataclasses.replace(
        proof, path=(dataclasses.replace(first, sum=max(first.sum - 1, 0)), *proof.path[1:])
    )
    with pytest.raises(ProofInvalid):
        verify_proof(cheat, root, total - 1)
    with pytest.raises(ProofInvalid, match="negative"):
        verify_proof(
            dataclasses.replace(proof, path=(Step(first.side, first.hash, -5), *proof.path[1:])),
            root,
            total,
        )


def test_a_proof_reveals_no_other_members_id_or_balance(tree: SumTree) -> None:
    proof = _proof(tree, "m0007")
    text = json.dumps(proof.as_dict())
    others = [m for m in BALANCES if m != "m0007"]
    assert not any(m in text for m in others)
    # what it says of others is only each sibling subtree's hash and sum; the one leaf-level
    # sibling's sum is that leaf's balance, hidden behind a salted commitment
    assert set(proof.as_dict()) == {"member_id", "balance", "salt", "path", "root"}
    assert all(set(step) == {"side", "hash", "sum"} for step in proof.as_dict()["path"])
    # the leaf order follows the commitments, not the ids: neighbours in the tree are strangers
    assert [s.sum for s in proof.path][-1] <= tree.root[1]


def test_salts_differ_per_member_and_per_snapshot() -> None:
    assert leaf_salt(KEY, "s1", "m1") != leaf_salt(KEY, "s1", "m2")
    assert leaf_salt(KEY, "s1", "m1") != leaf_salt(KEY, "s2", "m1")


@pytest.mark.slow
@pytest.mark.parametrize("n", [10**3, 10**4, 10**5, 10**6])
def test_a_proof_is_log_n_in_size(n: int) -> None:
    tree = SumTree([(f"m{i}", i % 100, i.to_bytes(32, "big")) for i in range(n)])
    proof = tree.proof("m1", (1).to_bytes(32, "big"))
    assert len(proof.path) == math.ceil(math.log2(n))
    assert len(json.dumps(proof.as_dict())) < 120 * math.ceil(math.log2(n)) + 300
    verify_proof(proof, *tree.root)


@given(st.dictionaries(st.text("abcdef0123", min_size=1, max_size=8), st.integers(0, 10**12),
                       min_size=1, max_size=40))  # fmt: skip
def test_any_set_of_balances_gives_proofs_that_add_up(balances: dict[str, int]) -> None:
    tree = _tree(balances)
    assert tree.root[1] == sum(balances.values())
    for member_id in balances:
        verify_proof(_proof(tree, member_id), *tree.root)


def test_the_standalone_verifier_agrees_and_needs_only_the_standard_library(
    tree: SumTree, tmp_path: Path
) -> None:
    root, total = tree.root
    good = tmp_path / "proof.json"
    key_id = hashlib.sha256(bytes(32)).hexdigest()[:16]  # unchecked without cryptography:
    signed = {"algorithm": "ed25519", "key_id": key_id, "public_key": "00" * 32, "value": "00" * 64}
    checkpoint = {"snapshot": {"root": root.hex(), "total": total}}
    good.write_text(json.dumps({"format": "jifen-liability-proof/1", "checkpoint": checkpoint,
                                "proof": _proof(tree, "m0100").as_dict(),
                                "signature": signed}), encoding="utf-8")  # fmt: skip
    bad_doc = _proof(tree, "m0100").as_dict() | {"balance": 1}
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"format": "jifen-liability-proof/1", "checkpoint": checkpoint,
                               "proof": bad_doc}), encoding="utf-8")  # fmt: skip
    run = [sys.executable, "-I", "-S", str(TOOL)]  # -S: no site-packages, the stdlib alone
    ok = subprocess.run([*run, str(good), "--root", root.hex(), "--total", str(total)],
                        capture_output=True, text=True, timeout=60)  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    assert "included" in ok.stdout and "NOT CHECKED" in ok.stdout  # no cryptography under -S
    no = subprocess.run([*run, str(bad), "--root", root.hex(), "--total", str(total)],
                        capture_output=True, text=True, timeout=60)  # fmt: skip
    assert no.returncode == 1 and "NOT included" in no.stdout
    other = subprocess.run([*run, str(good), "--root", root.hex(), "--total", str(total + 1)],
                           capture_output=True, text=True, timeout=60)  # fmt: skip
    assert other.returncode == 1 and "total" in other.stdout
    unreadable = subprocess.run([*run, str(tmp_path / "none.json")], capture_output=True,
                                text=True, timeout=60)  # fmt: skip
    assert unreadable.returncode == 2


def test_the_verifier_checks_an_ed25519_signature_when_cryptography_is_there(
    tree: SumTree, tmp_path: Path
) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    key = Ed25519PrivateKey.generate()
    root, total = tree.root
    checkpoint = {"snapshot": {"root": root.hex(), "total": total, "members": tree.members}}
    message = json.dumps(checkpoint, sort_keys=True, separators=(",", ":")).encode()
    public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    doc = {"proof": _proof(tree, "m0001").as_dict(), "checkpoint": checkpoint,
           "signature": {"algorithm": "ed25519", "key_id": hashlib.sha256(public).hexdigest()[:16],
                         "public_key": public.hex(), "value": key.sign(message).hex()}}  # fmt: skip
    tool = runpy.run_path(str(TOOL))
    assert "signature: valid" in tool["signature_word"](doc)
    doc["checkpoint"] = {"snapshot": {**checkpoint["snapshot"], "total": total + 1}}
    assert "INVALID" in tool["signature_word"](doc)
