"""Who is calling: operator and merchant API keys, member tokens, or nobody (public).

A caller who may not see a thing gets the same answer whether or not the thing exists, so a
refusal leaks nothing about another merchant or member. A client address that keeps presenting bad
credentials is refused for a while (``limits.FailedAuthLimiter``) before its next one is checked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from jifen.alliance.merchants import key_owner
from jifen.api.errors import AuthRateLimited, Forbidden, Unauthenticated
from jifen.api.limits import FailedAuthLimiter
from jifen.app.context import Context
from jifen.errors import JifenError

bearer = HTTPBearer(auto_error=False, description="API key (operator, merchant) or member token")


@dataclass(frozen=True)
class Caller:
    role: str  # operator | merchant | member
    merchant_id: str | None = None
    member_id: str | None = None

    @property
    def scope(self) -> str:
        """Whose idempotency keys these are: no caller can replay or probe another's."""
        return {"operator": "operator"}.get(
            self.role, f"{self.role}:{self.merchant_id or self.member_id}"
        )


def context(request: Request) -> Context:
    ctx: Context = request.app.state.ctx
    return ctx


ROLE_STATE = "jifen.role"
"""Where the request's ``state`` keeps the caller's role, for the request log (never the key)."""


def caller(
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
        who = _identify(context(request), credentials.credentials)
    except JifenError as exc:
        if exc.status == 401 and limiter is not None:  # a credential presented and refused
            limiter.failed(address)
        raise
    setattr(request.state, ROLE_STATE, who.role)
    return who


def _identify(ctx: Context, token: str) -> Caller:
    if token.startswith("jf"):
        owner = key_owner(ctx, token)
        if owner is None:
            raise Unauthenticated("API 密钥无效 / invalid API key")
        return Caller(owner[0], merchant_id=owner[1])
    return Caller("member", member_id=ctx.secrets.member_of(token, ctx.clock.now()))


def _role(role: str) -> object:
    def check(who: Annotated[Caller, Depends(caller)]) -> Caller:
        if who.role != role:
            raise Forbidden("无权访问 / not allowed")
        return who

    return check


Operator = Annotated[Caller, Depends(_role("operator"))]
MerchantCaller = Annotated[Caller, Depends(_role("merchant"))]
MemberCaller = Annotated[Caller, Depends(_role("member"))]
AnyCaller = Annotated[Caller, Depends(caller)]
Ctx = Annotated[Context, Depends(context)]
