"""Keys derived from one master secret: phone encryption, phone lookup, member tokens, codes.

One secret to keep (``JIFEN_SECRET``, or a ``.secret`` file beside an embedded store), from which
HKDF derives a separate key per purpose, so a leaked lookup key cannot decrypt phone numbers.
Phone numbers are sealed with AES-256-GCM (PIPL art 51: encryption at rest) and found again by a
keyed hash (HMAC-SHA256), never by the plaintext.

A store recognises its secret by a check value (an HMAC of a fixed label under a key of its own),
so a wrong secret is refused when the store opens, not discovered as an undecryptable phone on
the first read. The check value reveals nothing about the secret or the other keys.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from jifen.app.errors import SecretMissing, TokenInvalid
from jifen.store import sqlite_path

TOKEN_ALG = "HS256"
CHECK_LABEL = b"jifen/v1 this store's secret"


def _derive(master: bytes, purpose: str) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"jifen/v1", info=purpose.encode())
    return hkdf.derive(master)


@dataclass(frozen=True)
class Secrets:
    master: bytes

    @classmethod
    def load(cls, *, db_url: str, secret: str | None = None, create: bool = True) -> Secrets:
        """``JIFEN_SECRET`` (or ``secret``); for an embedded SQLite store, the ``.secret`` file
        beside it, created on first use (``create``: not for a store that already has a secret,
        whose file has gone: a new one would never open its data). A PostgreSQL store must be
        given the secret."""
        value = secret or os.environ.get("JIFEN_SECRET")
        if value:
            return cls(value.encode())
        if (path := secret_file(db_url)) is not None:
            if not path.exists():
                if not create:
                    raise SecretMissing(
                        f"此账本的密钥文件 {path} 不见了 / this store's secret file {path} is "
                        "missing: restore it, or set JIFEN_SECRET to the store's secret"
                    )
                path.touch(mode=0o600)
                path.write_text(secrets.token_urlsafe(32))
            return cls(path.read_text().strip().encode())
        raise SecretMissing(
            "设置 JIFEN_SECRET 以加密会员数据 / set JIFEN_SECRET: it seals member data"
        )

    def _key(self, purpose: str) -> bytes:
        return _derive(self.master, purpose)

    def snapshot_salt_key(self) -> bytes:
        """The key each liability snapshot's leaf salts are drawn from (docs/transparency.md): a
        member's salt is revealed only to that member, in their proof."""
        return self._key("snapshot-salts")

    def check_value(self) -> str:
        """What a store keeps to recognise this secret: HMAC-SHA256 of a fixed label under a key
        derived for nothing else, so it opens no data and cannot be turned back into the secret."""
        return hmac.new(self._key("secret-check"), CHECK_LABEL, hashlib.sha256).hexdigest()

    def recognises(self, check_value: str) -> bool:
        return hmac.compare_digest(self.check_value(), check_value)

    def opens(self, sealed: str) -> bool:
        """Whether this secret unseals ``sealed`` (a phone sealed before check values existed)."""
        try:
            self.unseal(sealed)
        except (InvalidTag, ValueError):
            return False
        return True

    def lookup(self, phone: str) -> str:
        return hmac.new(self._key("phone-lookup"), phone.encode(), hashlib.sha256).hexdigest()

    def seal(self, phone: str) -> str:
        nonce = os.urandom(12)
        sealed = AESGCM(self._key("phone-seal")).encrypt(nonce, phone.encode(), b"phone")
        return base64.b64encode(nonce + sealed).decode()

    def unseal(self, sealed: str) -> str:
        raw = base64.b64decode(sealed)
        return AESGCM(self._key("phone-seal")).decrypt(raw[:12], raw[12:], b"phone").decode()

    def seal_text(self, purpose: str, text: str) -> str:
        """AES-256-GCM under a key derived for ``purpose`` alone (a webhook secret, say), bound
        to it: a value sealed for one purpose never opens as another."""
        nonce = os.urandom(12)
        sealed = AESGCM(self._key(f"seal:{purpose}")).encrypt(
            nonce, text.encode(), purpose.encode()
        )
        return base64.b64encode(nonce + sealed).decode()

    def unseal_text(self, purpose: str, sealed: str) -> str:
        raw = base64.b64decode(sealed)
        key = self._key(f"seal:{purpose}")
        return AESGCM(key).decrypt(raw[:12], raw[12:], purpose.encode()).decode()

    def mac(self, purpose: str, text: str) -> str:
        """HMAC-SHA256 of ``text`` under a key derived for ``purpose`` alone (the consoles'
        CSRF tokens, the one-time sign-in codes): a value made for one purpose proves nothing
        for another, and none of them opens data."""
        return hmac.new(self._key(f"mac:{purpose}"), text.encode(), hashlib.sha256).hexdigest()

    def checkpoint_signing_seed(self) -> bytes:
        """The 32-byte Ed25519 seed of the key that signs this store's checkpoints when no key
        file is named: derived for nothing else, so the store signs from its first day with
        nothing more to keep, always with the same key, and the signing key opens no data."""
        return self._key("checkpoint-signing")

    def code_hash(self, code: str) -> str:
        return hmac.new(self._key("redemption-code"), code.encode(), hashlib.sha256).hexdigest()

    def member_token(self, member_id: str, now: datetime, ttl: timedelta) -> str:
        claims = {"sub": member_id, "role": "member", "iat": now, "exp": now + ttl}
        return jwt.encode(claims, self._key("member-token"), algorithm=TOKEN_ALG)

    def member_of(self, token: str, now: datetime) -> str:
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._key("member-token"),
                algorithms=[TOKEN_ALG],
                options={"verify_exp": False, "require": ["sub", "exp"]},
            )
        except jwt.PyJWTError as exc:
            raise TokenInvalid("会员令牌无效 / invalid member token") from exc
        if claims.get("role") != "member" or int(claims["exp"]) <= int(now.timestamp()):
            raise TokenInvalid("会员令牌无效或已过期 / member token invalid or expired")
        return str(claims["sub"])


def secret_file(db_url: str) -> Path | None:
    """Where an embedded store keeps its secret when ``JIFEN_SECRET`` is not set: a file beside
    it (``jifen.db`` → ``jifen.db.secret``); None for a server store, which has no such file."""
    store_file = sqlite_path(db_url)
    return Path(f"{store_file}.secret") if store_file is not None else None


def api_key_hash(key: str) -> str:
    """API keys are random 32-byte tokens: a plain SHA-256 is enough to store them safely."""
    return hashlib.sha256(key.encode()).hexdigest()


def new_api_key(prefix: str) -> str:
    return f"{prefix}_{secrets.token_urlsafe(32)}"
