"""The operator's signature on a checkpoint: who signed what, checkable by anyone who kept it.

A checkpoint is only worth keeping if its signer cannot later disown it, so it is signed with a
key whose public half travels with the signature (``signature_record``) and is named by a short
fingerprint, the key id, that the public page shows too. Two algorithms:

- **Ed25519**, the default: every verifier has it (``cryptography``, OpenSSL, browsers), and the
  default key is derived from the store's master secret (``Secrets.checkpoint_signing_seed``),
  so a store signs from its first day with no extra file to keep, and always with the same key.
- **SM2 with SM3** (GB/T 32918, the default user id ``1234567812345678``), for operators who must
  use 国密 algorithms: a key file (``JIFEN_SIGNING_KEY``) read by ``tongsuopy``, Tongsuo's
  Python SDK, installed with ``pip install 'jifen[sm2]'``. OpenSSL 3 verifies its signatures
  (``openssl pkeyutl -verify -rawin -digest sm3 -pkeyopt distid:1234567812345678``).

The signed message is always ``canonical(document)``; ``tools/verify_proof.py`` recomputes it on
the standard library alone. Encodings: an Ed25519 public key is its raw 32 bytes, an SM2 one the
uncompressed X9.62 point (65 bytes, ``04`` ‖ x ‖ y), a signature Ed25519's raw 64 bytes or SM2's
DER ``SEQUENCE {r, s}``, all in lower-case hex.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from jifen.app import Secrets
from jifen.ledger import chain
from jifen.proofs.errors import SignatureInvalid, SignatureUnchecked, SigningKeyInvalid

ALGORITHMS = ("ed25519", "sm2")
KEY_FILE_VARIABLE = "JIFEN_SIGNING_KEY"
SM2_INSTALL = "pip install 'jifen[sm2]'"
RECORD_FIELDS = ("algorithm", "key_id", "public_key", "value")
NEITHER = ("不是 Ed25519 或 SM2 密钥", "holds neither an Ed25519 nor an SM2 key")


def key_id_of(public_key: bytes) -> str:
    """A key's fingerprint: the first 16 hex digits of SHA-256 over its public bytes, short
    enough to print beside a checkpoint and to compare by eye with the public page's."""
    return hashlib.sha256(public_key).hexdigest()[:16]


@dataclass(frozen=True)
class SigningKey:
    """A signing key and what a verifier is told of it. ``private`` is the library's key object
    (``cryptography``'s Ed25519 or ``tongsuopy``'s SM2): kept out of repr (a log line never
    shows it) and out of equality (two loads of one key file are the same key)."""

    algorithm: str
    public_key: str
    private: Any = field(repr=False, compare=False)

    @property
    def key_id(self) -> str:
        return key_id_of(bytes.fromhex(self.public_key))

    def sign(self, message: bytes) -> str:
        if self.algorithm == "sm2":
            sm = _tongsuo()
            return bytes(self.private.sign(message, sm.ec.ECDSA(sm.hashes.SM3()))).hex()
        return bytes(self.private.sign(message)).hex()


def canonical(document: dict[str, Any]) -> bytes:
    """The bytes a checkpoint's signature covers: sorted keys, no spaces, UTF-8 (the ledger
    chain's encoding, which for plain JSON values is exactly ``json.dumps(..., sort_keys=True,
    separators=(",", ":"), ensure_ascii=False)``, what the standalone verifier recomputes).
    A checkpoint holds plain JSON values only, so the file a verifier reads encodes the same."""
    return chain.canonical(document)


def signature_record(key: SigningKey, document: dict[str, Any]) -> dict[str, str]:
    """What a checkpoint carries beside itself: enough to check it with no other file."""
    return {
        "algorithm": key.algorithm,
        "key_id": key.key_id,
        "public_key": key.public_key,
        "value": key.sign(canonical(document)),
    }


def verify_signature(document: dict[str, Any], record: Mapping[str, Any]) -> None:
    """Return if ``record`` signs ``document``; else ``SignatureInvalid``, or, for SM2 without
    ``tongsuopy``, ``SignatureUnchecked`` (never a silent pass). The key id is recomputed from
    the public key, so a record cannot borrow a published key id for another key."""
    if not isinstance(record, Mapping) or not all(
        isinstance(record.get(name), str) for name in RECORD_FIELDS
    ):
        raise SignatureInvalid("签名记录格式错误 / a malformed signature record")
    algorithm = record["algorithm"]
    if algorithm not in ALGORITHMS:
        raise SignatureInvalid(
            f"未知的签名算法 {algorithm!r} / an unknown signature algorithm {algorithm!r}"
        )
    try:
        public, value = bytes.fromhex(record["public_key"]), bytes.fromhex(record["value"])
    except ValueError as exc:
        raise SignatureInvalid("签名记录不是十六进制 / a signature record not in hex") from exc
    if key_id_of(public) != record["key_id"]:
        raise SignatureInvalid(
            "密钥编号与公钥不符 / the key id is not the public key's fingerprint"
        )
    message = canonical(document)
    if algorithm == "sm2":
        _verify_sm2(public, value, message)
        return
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(value, message)
    except (InvalidSignature, ValueError) as exc:
        raise SignatureInvalid("检查点签名无效 / the checkpoint's signature is invalid") from exc


def _verify_sm2(public: bytes, value: bytes, message: bytes) -> None:
    try:
        sm = _tongsuo()
    except ImportError as exc:
        raise SignatureUnchecked(
            f"SM2 签名未校验：未安装 tongsuopy（{SM2_INSTALL}）/ SM2 signature not checked: "
            f"tongsuopy is not installed ({SM2_INSTALL})"
        ) from exc
    if len(public) != 65 or public[0] != 0x04:
        raise SignatureInvalid("SM2 公钥须为非压缩点 / an SM2 public key must be uncompressed")
    try:
        key = sm.ec.EllipticCurvePublicKey.from_encoded_point(sm.ec.SM2(), public)
        key.verify(value, message, sm.ec.ECDSA(sm.hashes.SM3()))
    except (sm.exceptions.InvalidSignature, sm.exceptions.InternalError, ValueError) as exc:
        # tongsuopy answers a signature that is not DER at all with InternalError: refused too
        raise SignatureInvalid("检查点签名无效 / the checkpoint's signature is invalid") from exc


def _tongsuo() -> SimpleNamespace:
    """tongsuopy's ``exceptions``, ``hashes``, ``ec`` and ``serialization``, imported on use: SM2
    is an optional extra (``jifen[sm2]``) an Ed25519 store never needs. ImportError without it."""
    from tongsuopy.crypto import (  # type: ignore[import-untyped, import-not-found, unused-ignore]
        exceptions,
        hashes,
        serialization,
    )
    from tongsuopy.crypto.asymciphers import (  # type: ignore[import-untyped, import-not-found, unused-ignore]
        ec,
    )

    return SimpleNamespace(exceptions=exceptions, hashes=hashes, ec=ec, serialization=serialization)


def _tongsuo_for(path: Path) -> SimpleNamespace:
    try:
        return _tongsuo()
    except ImportError as exc:
        raise _refused(
            path, f"需要 tongsuopy（{SM2_INSTALL}）", f"needs tongsuopy for SM2 ({SM2_INSTALL})"
        ) from exc


def key_file_from_env(environ: Mapping[str, str]) -> str | None:
    """``JIFEN_SIGNING_KEY``: the path of the operator's signing key file (a PKCS#8 PEM,
    unencrypted, Ed25519 or SM2); unset or empty, the store's derived Ed25519 key signs."""
    return environ.get(KEY_FILE_VARIABLE) or None


def load_signing_key(secrets: Secrets, key_file: str | None) -> SigningKey:
    """The key checkpoints are signed with: the key file's, if one is named, else the Ed25519
    key derived from the store's master secret (stable for the store, no file to keep)."""
    if key_file is None:
        private = Ed25519PrivateKey.from_private_bytes(secrets.checkpoint_signing_seed())
        return _ed25519(private)
    return _read_key_file(Path(key_file))


def _ed25519(private: Ed25519PrivateKey) -> SigningKey:
    public = private.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    return SigningKey("ed25519", public.hex(), private)


def _sm2(private: Any) -> SigningKey:
    library = _tongsuo().serialization
    public = private.public_key().public_bytes(
        library.Encoding.X962, library.PublicFormat.UncompressedPoint
    )
    return SigningKey("sm2", bytes(public).hex(), private)


def _refused(path: Path, zh: str, en: str) -> SigningKeyInvalid:
    return SigningKeyInvalid(
        f"签名密钥文件 {path} {zh} / signing key file {path}: {en}", file=str(path)
    )


def _read_key_file(path: Path) -> SigningKey:
    """Ed25519 through ``cryptography``; a key it does not know (the SM2 curve) through
    ``tongsuopy``; anything else, or an encrypted key (no one is there to type a passphrase when
    checkpoints are signed unattended), refused with the file's name."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise _refused(path, "无法读取", f"cannot be read ({exc.strerror})") from exc
    if b"-----BEGIN ENCRYPTED PRIVATE KEY-----" in data:
        raise _refused(
            path, "已加密，须为未加密的 PKCS#8", "is encrypted; give an unencrypted PKCS#8 PEM"
        )
    if b"-----BEGIN PRIVATE KEY-----" not in data:
        raise _refused(path, "不是 PKCS#8 PEM 私钥", "is not a PKCS#8 PEM private key")
    try:
        private = serialization.load_pem_private_key(data, password=None)
    except UnsupportedAlgorithm:
        return _read_sm2(path, data)
    except (ValueError, TypeError) as exc:
        raise _refused(path, "无法解析", "cannot be parsed as a private key") from exc
    if not isinstance(private, Ed25519PrivateKey):
        raise _refused(path, *NEITHER)
    return _ed25519(private)


def _read_sm2(path: Path, data: bytes) -> SigningKey:
    sm = _tongsuo_for(path)
    try:
        private = sm.serialization.load_pem_private_key(data, password=None)
    except Exception as exc:  # tongsuopy's loader raises its own kinds; any means "not SM2"
        raise _refused(path, *NEITHER) from exc
    if not isinstance(private, sm.ec.EllipticCurvePrivateKey) or not isinstance(
        private.curve, sm.ec.SM2
    ):
        raise _refused(path, *NEITHER)
    return _sm2(private)


def _pem(key: SigningKey) -> bytes:
    """The key as an unencrypted PKCS#8 PEM, in its own library's terms (tongsuopy's key objects
    take tongsuopy's encodings)."""
    library = _tongsuo().serialization if key.algorithm == "sm2" else serialization
    return bytes(
        key.private.private_bytes(
            library.Encoding.PEM, library.PrivateFormat.PKCS8, library.NoEncryption()
        )
    )


def generate_key_file(path: Path, algorithm: str) -> SigningKey:
    """A new signing key written to ``path`` as an unencrypted PKCS#8 PEM, readable by its owner
    alone (0600). An existing file is never overwritten: it may hold the key the store's
    published checkpoints are signed with, whose loss would look like an unannounced rotation."""
    if algorithm not in ALGORITHMS:
        raise _refused(path, f"算法 {algorithm!r} 不受支持", f"no such algorithm {algorithm!r}")
    if algorithm == "sm2":
        ec = _tongsuo_for(path).ec
        key = _sm2(ec.generate_private_key(ec.SM2()))
    else:
        key = _ed25519(Ed25519PrivateKey.generate())
    pem = _pem(key)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        raise _refused(path, "已存在，不会覆盖", "exists already; it is never overwritten") from exc
    except OSError as exc:
        raise _refused(path, "无法写入", f"cannot be written ({exc.strerror})") from exc
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    return key
