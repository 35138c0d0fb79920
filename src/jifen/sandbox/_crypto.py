"""WeChat Pay API v3 cryptography (payments.md §1.5), both sides of it.

- Requests: ``Authorization: WECHATPAY2-SHA256-RSA2048 mchid="…",nonce_str="…",signature="…",
  timestamp="…",serial_no="…"`` over ``METHOD\\nURL\\nTS\\nNONCE\\nBODY\\n``, RSA PKCS#1 v1.5 with
  SHA-256 by the merchant's key (:func:`authorization` builds one, :func:`parse_authorization`
  reads one).
- Responses and callbacks: ``Wechatpay-*`` headers over ``TS\\nNONCE\\nBODY\\n`` by the platform
  key, whose id is ``PUB_KEY_ID_…`` (:func:`signed_headers`, :func:`verify_headers`).
- Callback resources: AES-256-GCM with the 32-byte APIv3 key, a 12-byte nonce and
  ``associated_data`` (:func:`encrypt_resource`, :func:`decrypt_resource`).
- Sensitive fields (a receiver's ``name``): RSA-OAEP with SHA-1/MGF1 under the platform key
  (:func:`oaep_encrypt`, :func:`oaep_decrypt`).
"""

from __future__ import annotations

import base64
import re
import secrets
import string
import time
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

SCHEME = "WECHATPAY2-SHA256-RSA2048"
_NONCE_ALPHABET = string.ascii_uppercase + string.digits
_AUTH_FIELD = re.compile(r'(\w+)="([^"]*)"')


def nonce(length: int = 32) -> str:
    return "".join(secrets.choice(_NONCE_ALPHABET) for _ in range(length))


def new_private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def private_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def public_pem(key: rsa.RSAPublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def load_private(pem: bytes) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("not an RSA private key")
    return key


def load_public(pem: bytes) -> rsa.RSAPublicKey:
    key = serialization.load_pem_public_key(pem)
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("not an RSA public key")
    return key


def sign(key: rsa.RSAPrivateKey, message: bytes) -> str:
    return base64.b64encode(key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()


def verify(key: rsa.RSAPublicKey, message: bytes, signature_b64: str) -> bool:
    try:
        signature = base64.b64decode(signature_b64, validate=True)
        key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError):
        return False
    return True


def request_message(method: str, url: str, timestamp: str, nonce_str: str, body: bytes) -> bytes:
    return f"{method}\n{url}\n{timestamp}\n{nonce_str}\n".encode() + body + b"\n"


@dataclass(frozen=True)
class Authorization:
    mchid: str
    nonce_str: str
    signature: str
    timestamp: str
    serial_no: str


def parse_authorization(header: str | None) -> Authorization | None:
    """The five fields of a ``WECHATPAY2-SHA256-RSA2048`` header, or None if it is not one."""
    if not header or not header.startswith(SCHEME + " "):
        return None
    fields = dict(_AUTH_FIELD.findall(header[len(SCHEME) + 1 :]))
    try:
        return Authorization(
            fields["mchid"],
            fields["nonce_str"],
            fields["signature"],
            fields["timestamp"],
            fields["serial_no"],
        )
    except KeyError:
        return None


def authorization(
    key: rsa.RSAPrivateKey,
    *,
    mchid: str,
    serial_no: str,
    method: str,
    url: str,
    body: bytes = b"",
    timestamp: int | None = None,
) -> str:
    """A request's ``Authorization`` header, as a merchant builds it (for tests and tools)."""
    ts, nonce_str = str(int(time.time()) if timestamp is None else timestamp), nonce()
    signature = sign(key, request_message(method, url, ts, nonce_str, body))
    return (
        f'{SCHEME} mchid="{mchid}",nonce_str="{nonce_str}",signature="{signature}",'
        f'timestamp="{ts}",serial_no="{serial_no}"'
    )


def signed_headers(key: rsa.RSAPrivateKey, public_key_id: str, body: bytes) -> dict[str, str]:
    """The ``Wechatpay-*`` headers of a response or callback whose body is ``body``."""
    ts, nonce_str = str(int(time.time())), nonce()
    return {
        "Wechatpay-Timestamp": ts,
        "Wechatpay-Nonce": nonce_str,
        "Wechatpay-Signature": sign(key, f"{ts}\n{nonce_str}\n".encode() + body + b"\n"),
        "Wechatpay-Serial": public_key_id,
        "Wechatpay-Signature-Type": SCHEME,
    }


def verify_headers(key: rsa.RSAPublicKey, headers: dict[str, str], body: bytes) -> bool:
    """Whether ``headers`` (case-insensitively) carry a valid platform signature of ``body``."""
    low = {k.lower(): v for k, v in headers.items()}
    message = f"{low.get('wechatpay-timestamp', '')}\n{low.get('wechatpay-nonce', '')}\n"
    return low.get("wechatpay-signature-type") == SCHEME and verify(
        key, message.encode() + body + b"\n", low.get("wechatpay-signature", "")
    )


def encrypt_resource(apiv3_key: str, plaintext: str, associated_data: str) -> dict[str, str]:
    """A callback's ``resource`` object: AES-256-GCM with a fresh 12-character nonce."""
    nonce_str = nonce(12)
    sealed = AESGCM(apiv3_key.encode()).encrypt(
        nonce_str.encode(), plaintext.encode(), associated_data.encode()
    )
    return {
        "algorithm": "AEAD_AES_256_GCM",
        "ciphertext": base64.b64encode(sealed).decode(),
        "associated_data": associated_data,
        "nonce": nonce_str,
    }


def decrypt_resource(apiv3_key: str, resource: dict[str, str]) -> str | None:
    try:
        return (
            AESGCM(apiv3_key.encode())
            .decrypt(
                resource["nonce"].encode(),
                base64.b64decode(resource["ciphertext"]),
                resource.get("associated_data", "").encode(),
            )
            .decode()
        )
    except (InvalidTag, KeyError, ValueError):
        return None


_OAEP = padding.OAEP(mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None)


def oaep_encrypt(key: rsa.RSAPublicKey, text: str) -> str:
    return base64.b64encode(key.encrypt(text.encode(), _OAEP)).decode()


def oaep_decrypt(key: rsa.RSAPrivateKey, ciphertext_b64: str) -> str | None:
    """The plaintext of a sensitive field, or None if it was not encrypted to this key."""
    try:
        return key.decrypt(base64.b64decode(ciphertext_b64, validate=True), _OAEP).decode()
    except (ValueError, UnicodeDecodeError):
        return None
