"""Who is calling: operator, merchant and auditor API keys, member tokens, or nobody (public).

A caller who may not see a thing gets the same answer whether or not the thing exists, so a
refusal leaks nothing about another merchant or member. A client address that keeps presenting bad
credentials is refused for a while (``limits.FailedAuthLimiter``) before its next one is checked.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from jifen.alliance.keys import KeyOwner
from jifen.alliance.merchants import key_owner
from jifen.api.errors import AuthRateLimited, Forbidden, Unauthenticated
from jifen.api.limits import FailedAuthLimiter
from jifen.app.context import Context
from jifen.errors import JifenError

bearer = HTTPBearer(
    auto_error=False, description="API key (operator, merchant, auditor) or member token"
)


@dataclass(frozen=True)
class Caller:
    role: str  # operator | merchant | auditor | member
    merchant_id: str | None = None
    member_id: str | None = None
    key_id: str | None = None  # the API key presented (its id: one per store or till)

    @property
    def actor(self) -> str:
        """Who did it, for an audit record: the role and the key's id, never the key."""
        return f"{self.role} key:{self.key_id}" if self.key_id else self.role

    @property
    def scope(self) -> str:
        """Whose idempotency keys these are: no caller can replay or probe another's."""
        if self.role == "auditor":  # each auditor its own keys: one firm cannot replay another's
            return f"auditor:{self.key_id}"
        return {"operator": "operator"}.get(
            self.role, f"{self.role}:{self.merchant_id or self.member_id}"
        )


async def context(request: Request) -> Context:
    """Async, like the role checks below: a dependency that does no I/O runs on the event loop,
    not on a thread of the pool (each hop there costs more than the check itself)."""
    ctx: Context = request.app.state.ctx
    return ctx


KEY_CACHE_S = 5.0
"""How long a process trusts an API key it has looked up. The process that suspends a merchant
(and so revokes its keys), revokes or rotates a key forgets every key at once; another worker may
accept a revoked key for at most this long, and a suspended merchant's writes are refused by the
service anyway."""


class KeyCache:
    """Live API keys by their hash, for ``KEY_CACHE_S``: the till's every request names its key,
    and reading it from the store each time was a round trip and a pool thread per request."""

    MAX_KEYS = 10_000

    def __init__(self, ttl_s: float = KEY_CACHE_S) -> None:
        self.ttl_s = ttl_s
        self._keys: dict[str, tuple[float, KeyOwner]] = {}
        self._lock = threading.Lock()

    def get(self, token: str) -> KeyOwner | None:
        with self._lock:
            hit = self._keys.get(token)
        if hit is None or hit[0] < time.monotonic():
            return None
        return hit[1]

    def put(self, token: str, owner: KeyOwner) -> None:
        with self._lock:
            if len(self._keys) >= self.MAX_KEYS:
                self._keys.clear()
            self._keys[token] = (time.monotonic() + self.ttl_s, owner)

    def clear(self) -> None:
        with self._lock:
            self._keys.clear()


ROLE_STATE = "jifen.role"
"""Where the request's ``state`` keeps the caller's role, for the request log (never the key)."""


async def caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Caller:
    if credentials is None or not credentials.credentials:
        raise Unauthenticated("需要身份凭证 / authentication required")
    limiter: FailedAuthLimiter | None = getattr(request.app.state, "auth_limiter", None)
    address = request.client.host if request.client else "unknown"
    if limiter is not None:
        wait_s = limiter.retry_after_s(address)
        if wait_s is not None:
            raise AuthRateLimited(
                f"身份验证失败次数过多，请 {wait_s} 秒后重试 / too many failed authentications "
                f"from this address; retry in {wait_s} s",
                retry_after_s=wait_s,
            )
    try:
        who = await _identify(request, credentials.credentials)
    except JifenError as exc:
        if exc.status == 401 and limiter is not None:  # a credential presented and refused
            limiter.failed(address)
        raise
    setattr(request.state, ROLE_STATE, who.role)
    return who


async def _identify(request: Request, token: str) -> Caller:
    ctx: Context = request.app.state.ctx
    if token.startswith("jf"):
        cache: KeyCache | None = getattr(request.app.state, "key_cache", None)
        owner = cache.get(token) if cache is not None else None
        if owner is None:  # the store is read on a pool thread, never on the event loop
            owner = await run_in_threadpool(key_owner, ctx, token)
            if owner is not None and cache is not None:
                cache.put(token, owner)
        if owner is None:
            raise Unauthenticated("API 密钥无效 / invalid API key", detail_key="invalid_key")
        return Caller(owner.role, merchant_id=owner.merchant_id, key_id=owner.key_id)
    return Caller("member", member_id=ctx.secrets.member_of(token, ctx.clock.now()))


def _role(*roles: str) -> object:
    async def check(who: Annotated[Caller, Depends(caller)]) -> Caller:
        if who.role not in roles:
            raise Forbidden("无权访问 / not allowed")
        return who

    return check


Operator = Annotated[Caller, Depends(_role("operator"))]
MerchantCaller = Annotated[Caller, Depends(_role("merchant"))]
MemberCaller = Annotated[Caller, Depends(_role("member"))]
OperatorOrMerchant = Annotated[Caller, Depends(_role("operator", "merchant"))]
Reader = Annotated[Caller, Depends(_role("operator", "auditor"))]
"""The operator or an auditor: the read-only routes of ``routes_auditor`` (docs/auditor.md)."""
Ctx = Annotated[Context, Depends(context)]
