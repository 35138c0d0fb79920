#!/usr/bin/env python3
"""Check a Jifen member's proof of liabilities with nothing but Python's standard library.

    python3 verify_proof.py PROOF.json [--root HEX --total N]

PROOF.json is what the member downloaded (``GET /v1/me/liability-proof`` or the member page):
``{"format": "jifen-liability-proof/1", "proof": {...}, "checkpoint": {...}, "signature": {...}}``.
The script recomputes the path from the member's leaf to the root (the encoding is in
docs/transparency.md and ``jifen.transparency.merkle``) and compares root and total with the ones
given on the command line — copy them from the public page or a checkpoint you kept, so that you do
not have to trust the file — or, without them, with the ones the operator signed in the
checkpoint; a proof whose own root or total is not the checkpoint's fails either way. The
signature over the checkpoint (its canonical JSON: sorted keys, no spaces, UTF-8) is checked if
the library for it is installed: Ed25519 with ``cryptography``, SM2 (with SM3 and the default user
id 1234567812345678) with ``tongsuopy``; without it, the script says plainly that the signature
was not checked.

Exit 0: the balance is counted in the published total. Exit 1: it is not, or the checkpoint's
signature is invalid (the reason is printed). Exit 2: the file cannot be read.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from typing import Any

FORMAT = "jifen-liability-proof/1"
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


def check(proof: dict[str, Any], root_hex: str, total: int) -> str | None:
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


def key_id(public_key: bytes) -> str:
    """The key's fingerprint the public page shows: SHA-256 of the public key, 16 hex digits."""
    return hashlib.sha256(public_key).hexdigest()[:16]


def canonical(document: dict[str, Any]) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _ed25519_holds(public: bytes, value: bytes, message: bytes) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        Ed25519PublicKey.from_public_bytes(public).verify(value, message)
    except (InvalidSignature, ValueError):
        return False
    return True


def _sm2_holds(public: bytes, value: bytes, message: bytes) -> bool:
    from tongsuopy.crypto import hashes  # type: ignore[import-untyped]
    from tongsuopy.crypto.asymciphers import ec  # type: ignore[import-untyped]
    from tongsuopy.crypto.exceptions import InternalError, InvalidSignature  # type: ignore[import-untyped]

    if len(public) != 65 or public[0] != 0x04:
        return False
    try:
        key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SM2(), public)
        key.verify(value, message, ec.ECDSA(hashes.SM3()))
    except (InvalidSignature, InternalError, ValueError):  # InternalError: not DER at all
        return False
    return True


CHECKERS = {"ed25519": ("cryptography", _ed25519_holds), "sm2": ("tongsuopy", _sm2_holds)}


def signature_verdict(document: dict[str, Any]) -> tuple[str, str]:
    """("valid" | "invalid" | "unchecked" | "none", the words to print) for the file's
    signature over its checkpoint."""
    signature = document.get("signature")
    if not signature:
        return "none", "签名：文件中没有签名 / signature: none in the file"
    invalid = "签名：无效 / signature: INVALID"
    try:
        algorithm = signature["algorithm"]
        public, value = bytes.fromhex(signature["public_key"]), bytes.fromhex(signature["value"])
        library, holds = CHECKERS[algorithm]
        if key_id(public) != signature["key_id"]:
            return "invalid", f"{invalid} (the key id is not the public key's)"
        message = canonical(document["checkpoint"])
    except (KeyError, TypeError, ValueError, AttributeError):
        return "invalid", f"{invalid} (a malformed or unknown signature)"
    try:
        valid = holds(public, value, message)
    except ImportError:
        return "unchecked", (
            f"签名：未校验（未安装 {library}）/ signature NOT CHECKED: the {library} package "
            f"is not installed ({algorithm})"
        )
    if not valid:
        return "invalid", invalid
    return "valid", (
        f"签名：有效（{algorithm}，密钥 {key_id(public)}）/ signature: valid ({algorithm}, key "
        f"{key_id(public)}: compare it with the published key id)"
    )


def signature_word(document: dict[str, Any]) -> str:
    return signature_verdict(document)[1]


def _read(path: str) -> tuple[dict[str, Any], dict[str, Any], str, int]:
    """The document, its proof, and the root and total its checkpoint signs."""
    with open(path, encoding="utf-8") as f:
        document = json.load(f)
    if document.get("format") != FORMAT:
        raise ValueError(f"not a {FORMAT} file")
    snapshot = document["checkpoint"]["snapshot"]
    root, total = snapshot["root"], snapshot["total"]
    if not isinstance(root, str) or not isinstance(total, int):
        raise ValueError("a malformed checkpoint")
    return document, document["proof"], root, total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("proof_file")
    parser.add_argument("--root", help="the published root hash (hex); default: the checkpoint's")
    parser.add_argument("--total", type=int, help="the published total; default: the checkpoint's")
    args = parser.parse_args(argv)
    try:
        document, proof, signed_root, signed_total = _read(args.proof_file)
        own = (str(proof["root"]["hash"]).lower(), int(proof["root"]["sum"]))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        print(f"无法读取证明 / cannot read the proof: {exc}", file=sys.stderr)
        return 2
    if own != (signed_root.lower(), signed_total):
        print(
            "✘ 证明与检查点不符 / NOT included: the proof's root or total is not the checkpoint's"
        )
        return 1
    root = args.root or signed_root
    total = args.total if args.total is not None else signed_total
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
            "注意：根哈希取自文件中签名的检查点，请与公示值核对 / note: root taken from the "
            "file's signed checkpoint; compare it with the published one (--root, --total)"
        )
    verdict, words = signature_verdict(document)
    print(words)
    return 1 if verdict == "invalid" else 0


if __name__ == "__main__":
    sys.exit(main())
