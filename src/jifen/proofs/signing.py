"""(placeholder until the signing module lands)"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from jifen.app import Secrets
from jifen.ledger.chain import canonical


@dataclass(frozen=True)
class SigningKey:
    algorithm: str
    public_key: str
    _private: Any = field(repr=False, compare=False)

    @property
    def key_id(self) -> str:
        return hashlib.sha256(bytes.fromhex(self.public_key)).hexdigest()[:16]

    def sign(self, message: bytes) -> str:
        return str(self._private.sign(message).hex())


def load_signing_key(secrets: Secrets, key_file: str | None) -> SigningKey:
    seed = hashlib.sha256(secrets.master + b"checkpoint-signing").digest()
    key = Ed25519PrivateKey.from_private_bytes(seed)
    pub = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()
    return SigningKey("ed25519", pub, key)


def key_file_from_env(environ: Any) -> str | None:
    return environ.get("JIFEN_SIGNING_KEY") or None


def signature_record(key: SigningKey, document: dict[str, Any]) -> dict[str, Any]:
    return {
        "algorithm": key.algorithm,
        "key_id": key.key_id,
        "public_key": key.public_key,
        "value": key.sign(canonical(document)),
    }


def verify_signature(document: dict[str, Any], record: dict[str, Any]) -> None:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from jifen.proofs.errors import SignatureInvalid

    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(record["public_key"])).verify(
            bytes.fromhex(record["value"]), canonical(document)
        )
    except (InvalidSignature, ValueError, KeyError) as exc:
        raise SignatureInvalid("签名无效 / the signature does not verify") from exc
