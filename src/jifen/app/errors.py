"""Errors of this package, each with a stable code (docs/api.md lists those the API answers)."""

from __future__ import annotations

from jifen.errors import JifenError


class SecretMissing(JifenError):
    code = "secret.missing"
    status = 500


class SecretMismatch(JifenError):
    code = "secret.mismatch"
    status = 500

    def __init__(self) -> None:
        super().__init__(
            "密钥与此账本不符：会员数据是用另一个 JIFEN_SECRET 加密的 / the secret does not match "
            "this store: its member data was sealed with another JIFEN_SECRET (or .secret file)"
        )


class TokenInvalid(JifenError):
    code = "auth.invalid_token"
    status = 401


class ClockMismatch(JifenError):
    """A store runs on one clock: a real-clock store cannot be driven by a simulated clock (its
    entries would go back in time), nor a simulated store by the real one (it would close every
    simulated day at once)."""

    code = "clock.mismatch"
    status = 409
