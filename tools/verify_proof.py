#!/usr/bin/env python3
"""Check a Jifen member's proof of liabilities with nothing but Python's standard library.

    python3 verify_proof.py PROOF.json [--root HEX --total N]

PROOF.json is what the member downloaded (``GET /v1/me/liability-proof`` or the member page):
``{"proof": {...}, "snapshot": {...}, "signature": {...}?}``. The script recomputes the path from
the member's leaf to the root (the encoding is in docs/transparency.md and
``jifen.transparency.merkle``), compares root and total with the ones given on the command line —
copy them from the public page or a checkpoint you kept, so that you do not have to trust the file
— and, if the ``cryptography`` package is installed, checks the operator's Ed25519 signature over
the snapshot; without it, it says plainly that the signature was not checked.

Exit 0: the balance is counted in the published total. Exit 1: it is not (the reason is printed).
Exit 2: the file cannot be read.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys

EMPTY = hashlib.sha256(b"jifen-empty").digest()
MAX_SUM = 2**63 - 1


def _sum8(value: int) -> bytes:
    if not 0 <= value <= MAX_SUM:
        raise ValueError(f"a sum out of range: {value}")
    return value.to_bytes(8, "big")


def leaf_hash(salt: bytes, member_id: str, balance: int) -> bytes:
    if len(salt) != 32 or not 0 <= balance <= 10**15:
        raise ValueError("a malformed leaf")
    return hashlib.sha256(
        b"jifen-leaf\x00" + salt + member_id.encode() + b"\x00" + balance.to_bytes(8, "big")
    ).digest()


def node_hash(left: tuple[bytes, int], right: tuple[bytes, int]) -> bytes:
    return hashlib.sha256(
        b"jifen-node\x00" + left[0] + _sum8(left[1]) + right[0] + _sum8(right[1])
    ).digest()


def check(proof: dict, root_hex: str, total: int) -> str | None:
    """None when the proof holds, else why not."""
    try:
        node = (
            leaf_hash(bytes.fromhex(proof["salt"]), proof["member_id"], int(proof["balance"])),
            int(proof["balance"]),
        )
        for step in proof["path"]:
            sibling = (bytes.fromhex(step["hash"]), int(step["sum"]))
            if sibling[1] < 0:
                return "a sibling claims a negative sum"
            pair = (sibling, node) if step["side"] == "left" else (node, sibling)
            node = (node_hash(*pair), node[1] + sibling[1])
    except (KeyError, TypeError, ValueError) as exc:
        return f"not a proof: {exc}"
    if node[0].hex() != root_hex.lower():
        return "the path does not lead to the published root"
    if node[1] != total:
        return f"the sums come to {node[1]}, not the published total {total}"
    return None


def signature_word(document: dict) -> str:
    signature = document.get("signature")
    if not signature:
        return "签名：文件中没有签名 / signature: none in the file"
    try:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    except ImportError:
        return (
            "签名：未校验（未安装 cryptography）/ signature NOT CHECKED: the cryptography "
            "package is not installed"
        )
    message = json.dumps(document["snapshot"], sort_keys=True, separators=(",", ":")).encode()
    key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(signature["public_key"]))
    try:
        key.verify(bytes.fromhex(signature["value"]), message)
    except (InvalidSignature, ValueError):
        return "签名：无效 / signature: INVALID"
    return f"签名：有效（公钥 {signature['public_key'][:16]}…）/ signature: valid"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("proof_file")
    parser.add_argument("--root", help="the published root hash (hex); default: the file's")
    parser.add_argument("--total", type=int, help="the published total; default: the file's")
    args = parser.parse_args(argv)
    try:
        with open(args.proof_file, encoding="utf-8") as f:
            document = json.load(f)
        proof = document["proof"]
        root = args.root or proof["root"]["hash"]
        total = args.total if args.total is not None else int(proof["root"]["sum"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"无法读取证明 / cannot read the proof: {exc}", file=sys.stderr)
        return 2
    why = check(proof, root, total)
    if why:
        print(f"✘ 未包含 / NOT included: {why}")
        return 1
    print(
        f"✔ 已包含 / included: {proof['member_id']} {proof['balance']} points under root "
        f"{root[:16]}… total {total}"
    )
    if args.root is None:
        print(
            "注意：根哈希取自文件本身，请与公示值核对 / note: root taken from the file itself; "
            "compare it with the published one (--root, --total)"
        )
    print(signature_word(document))
    return 0


if __name__ == "__main__":
    sys.exit(main())
