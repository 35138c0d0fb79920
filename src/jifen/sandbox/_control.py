"""The control API under ``/sandbox/…``: what no merchant can do at WeChat, for tests and demos.

Unsigned JSON, loopback clients only. The customer pays; the clock is read, set and advanced (due
work runs on the way); faults are switched; balances, the fund ledger and the callbacks sent are
read; merchants are created and configured. Refusals are ``{"code", "message"}`` with Jifen codes
(``sandbox.control_invalid``, ``sandbox.not_found``). docs/sandbox-provider.md lists every route.
"""

from __future__ import annotations

import ipaddress
import json
import re
import threading
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from jifen.sandbox._engine import Engine
from jifen.sandbox._payments import customer_pays, transaction_view
from jifen.sandbox._state import Faults, MerchantKind, MerchantRole, Settings
from jifen.sandbox._world import account
from jifen.sandbox.errors import ControlRefused, SandboxError, SandboxNotFound

Control = Callable[[Engine, dict[str, str], Any, dict[str, str]], Any]
MAX_LEDGER_PAGE = 1000


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class PayBody(_Body):
    out_trade_no: str
    mchid: str | None = None
    openid: str | None = None


class ClockBody(_Body):
    now: datetime | None = None
    running: bool | None = None
    model_config = ConfigDict(extra="forbid", strict=False)


class AdvanceBody(_Body):
    seconds: float = Field(ge=0, le=10 * 365 * 86_400)
    model_config = ConfigDict(extra="forbid", strict=False)


class OutageBody(_Body):
    mode: Literal["refuse", "5xx", "5xx_after"]
    seconds: float | None = Field(default=None, gt=0, le=600)
    requests: int | None = Field(default=None, ge=1)
    model_config = ConfigDict(extra="forbid", strict=False)


class MerchantBody(_Body):
    name: str = Field(min_length=1, max_length=128)
    kind: MerchantKind = "sub_merchant"
    role: MerchantRole = "merchant"
    mchid: str | None = Field(default=None, pattern=r"^[0-9]{8,10}$")
    sp_mchid: str | None = None


class MerchantPatch(_Body):
    fee_rate_bp: int | None = Field(default=None, ge=0, le=10_000)
    max_ratio_bp: int | None = Field(default=None, ge=0, le=10_000)
    profitsharing_notify_url: str | None = None


class TopUpBody(_Body):
    amount: int = Field(gt=0, le=10**12)


def _model(cls: type[_Body], body: Any) -> Any:
    try:
        return cls.model_validate(body if body is not None else {})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise ControlRefused(f"请求体有误 / invalid body: {where}: {first['msg']}") from None


# -- handlers -----------------------------------------------------------------------------------
def pay(engine: Engine, _p: dict[str, str], body: Any, _q: dict[str, str]) -> Any:
    req = _model(PayBody, body)
    return engine.locked(
        lambda w: transaction_view(w, customer_pays(w, req.out_trade_no, req.mchid, req.openid))
    )


def clock(engine: Engine, _p: dict[str, str], _b: Any, _q: dict[str, str]) -> Any:
    return {"now": engine.clock.now().isoformat(), "running": engine.clock.running}


def set_clock(engine: Engine, _p: dict[str, str], body: Any, _q: dict[str, str]) -> Any:
    req = _model(ClockBody, body)
    engine.advance_to(req.now or engine.clock.now(), running=req.running)
    return clock(engine, _p, None, _q)


def advance(engine: Engine, _p: dict[str, str], body: Any, _q: dict[str, str]) -> Any:
    req = _model(AdvanceBody, body)
    engine.advance_to(engine.clock.now() + timedelta(seconds=req.seconds))
    return clock(engine, _p, None, _q)


def tick(engine: Engine, _p: dict[str, str], _b: Any, _q: dict[str, str]) -> Any:
    engine.tick()
    return clock(engine, _p, None, _q)


def faults(engine: Engine, _p: dict[str, str], _b: Any, _q: dict[str, str]) -> Any:
    with engine.lock:
        return engine.state.faults.model_dump()


def put_faults(engine: Engine, _p: dict[str, str], body: Any, _q: dict[str, str]) -> Any:
    if body is not None and (not isinstance(body, dict) or set(body) - set(Faults.model_fields)):
        raise ControlRefused("未知的故障开关 / unknown fault switches in the body")
    try:
        new = Faults.model_validate(body if body is not None else {})
    except ValidationError as exc:
        raise ControlRefused(f"故障开关有误 / invalid faults: {exc.errors()[0]['msg']}") from None

    def change() -> None:
        engine.state.faults = new

    engine.mutate(change)
    return new.model_dump()


def outage(engine: Engine, _p: dict[str, str], body: Any, _q: dict[str, str]) -> Any:
    req = _model(OutageBody, body)
    if req.mode == "refuse":
        if req.seconds is None or engine.outage_hook is None:
            raise ControlRefused("refuse 须给出 seconds / mode refuse needs seconds (≤ 600)")
        threading.Timer(0.05, engine.outage_hook, args=(req.seconds,)).start()
        return {"mode": "refuse", "seconds": req.seconds}
    _set_outage(engine, req.mode, req.requests)
    return {"mode": req.mode, "requests": req.requests}


def _set_outage(engine: Engine, mode: Any, requests: int | None) -> None:
    def change() -> None:
        engine.state.faults.outage, engine.state.faults.outage_requests = mode, requests

    engine.mutate(change)


def end_outage(engine: Engine, _p: dict[str, str], _b: Any, _q: dict[str, str]) -> Any:
    _set_outage(engine, None, None)
    return {"mode": None}


def settings(engine: Engine, _p: dict[str, str], body: Any, _q: dict[str, str]) -> Any:
    def change() -> Any:
        if body is not None:
            if not isinstance(body, dict) or set(body) - set(Settings.model_fields):
                raise ControlRefused("未知的设置项 / unknown settings in the body")
            try:
                merged = Settings.model_validate(engine.state.settings.model_dump() | body)
            except ValidationError as exc:
                first = exc.errors()[0]["msg"]
                raise ControlRefused(f"设置有误 / invalid settings: {first}") from None
            engine.state.settings = merged
        return engine.state.settings.model_dump()

    return engine.mutate(change)


def balances(engine: Engine, _p: dict[str, str], _b: Any, query: dict[str, str]) -> Any:
    prefix = f"{query['mchid']}:" if "mchid" in query else ""
    with engine.lock:
        return {k: v for k, v in sorted(engine.state.balances.items()) if k.startswith(prefix)}


def ledger(engine: Engine, _p: dict[str, str], _b: Any, query: dict[str, str]) -> Any:
    try:
        after = int(query.get("after", "0"))
    except ValueError:
        raise ControlRefused("after 须为整数 / after must be an integer") from None
    kind = query.get("kind")
    with engine.lock:
        rows = [
            m.model_dump(mode="json")
            for m in engine.state.movements[max(after, 0) :]
            if kind in (None, m.kind)
        ]
    return {"movements": rows[:MAX_LEDGER_PAGE], "more": len(rows) > MAX_LEDGER_PAGE}


def notifications(engine: Engine, _p: dict[str, str], _b: Any, query: dict[str, str]) -> Any:
    event_type = query.get("event_type")
    with engine.lock:
        found = [
            n.model_dump(mode="json")
            for n in engine.state.notifications
            if event_type in (None, n.event_type)
        ]
    for n in found:
        n["body"] = json.loads(n["body"])
    return {"notifications": found}


def transaction(engine: Engine, path: dict[str, str], _b: Any, _q: dict[str, str]) -> Any:
    with engine.lock:
        found = engine.state.transaction_ids.get(path["transaction_id"])
        if found is None:
            raise SandboxNotFound("没有这笔交易 / no such transaction")
        return engine.state.transactions[found].model_dump(mode="json")


def credentials(engine: Engine, _p: dict[str, str], _b: Any, _q: dict[str, str]) -> Any:
    return engine.credentials()


def merchants(engine: Engine, _p: dict[str, str], _b: Any, _q: dict[str, str]) -> Any:
    return {"merchants": engine.credentials()["merchants"]}


def add_merchant(engine: Engine, _p: dict[str, str], body: Any, _q: dict[str, str]) -> Any:
    req = _model(MerchantBody, body)

    def change() -> dict[str, Any]:
        state = engine.state
        mchid = req.mchid or str(max([int(m) for m in state.merchants] + [1900000100]) + 1)
        if mchid in state.merchants:
            raise ControlRefused(f"商户号已存在 / merchant {mchid} exists")
        if req.kind == "sub_merchant":
            sp = state.merchants.get(req.sp_mchid or "1900000001")
            if sp is None or sp.kind != "service_provider":
                raise ControlRefused("sp_mchid 须为服务商 / sp_mchid must be a service provider")
        engine.statedir.add_merchant(
            state, mchid=mchid, name=req.name, kind=req.kind, role=req.role, sp_mchid=req.sp_mchid
        )
        merchants: list[dict[str, Any]] = engine.write_credentials()["merchants"]
        return next(m for m in merchants if m["mchid"] == mchid)

    created = engine.mutate(change)
    engine.save_if_dirty()
    return created


def patch_merchant(engine: Engine, path: dict[str, str], body: Any, _q: dict[str, str]) -> Any:
    req = _model(MerchantPatch, body)
    url = req.profitsharing_notify_url
    if url is not None and not re.match(r"^https?://[^?]+$", url):
        raise ControlRefused("通知地址须为不带参数的 http(s) 地址 / a http(s) URL, no query")

    def change() -> Any:
        merchant = engine.state.merchants.get(path["mchid"])
        if merchant is None:
            raise SandboxNotFound("没有这个商户 / no such merchant")
        for field, value in req.model_dump(exclude_unset=True).items():
            setattr(merchant, field, value)
        return merchant.model_dump(exclude={"public_key_pem"})

    return engine.mutate(change)


def top_up(engine: Engine, path: dict[str, str], body: Any, _q: dict[str, str]) -> Any:
    """The merchant tops up its own balance from its bank account (充值), e.g. so a receiver
    can cover a split return."""
    req = _model(TopUpBody, body)

    def operation(world: Any) -> Any:
        merchant = world.merchant(path["mchid"])
        if merchant is None or merchant.role == "platform":
            raise SandboxNotFound("没有可充值的商户 / no such merchant account")
        bank, available = account(merchant.mchid, "BANK"), account(merchant.mchid, "AVAILABLE")
        world.move("top_up", bank, available, req.amount)
        return {"available": world.balance(account(merchant.mchid, "AVAILABLE"))}

    return engine.locked(operation)


CONTROL_ROUTES: list[tuple[str, str, Control]] = [
    ("GET", "/sandbox/credentials", credentials),
    ("GET", "/sandbox/merchants", merchants),
    ("POST", "/sandbox/merchants", add_merchant),
    ("PATCH", "/sandbox/merchants/{mchid}", patch_merchant),
    ("POST", "/sandbox/merchants/{mchid}/top-up", top_up),
    ("POST", "/sandbox/pay", pay),
    ("GET", "/sandbox/clock", clock),
    ("PUT", "/sandbox/clock", set_clock),
    ("POST", "/sandbox/clock/advance", advance),
    ("POST", "/sandbox/tick", tick),
    ("GET", "/sandbox/faults", faults),
    ("PUT", "/sandbox/faults", put_faults),
    ("POST", "/sandbox/outage", outage),
    ("DELETE", "/sandbox/outage", end_outage),
    ("GET", "/sandbox/settings", settings),
    ("PATCH", "/sandbox/settings", settings),
    ("GET", "/sandbox/balances", balances),
    ("GET", "/sandbox/ledger", ledger),
    ("GET", "/sandbox/notifications", notifications),
    ("GET", "/sandbox/transactions/{transaction_id}", transaction),
]


def _loopback(request: Request) -> bool:
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host in ("testclient", "localhost")


def endpoint(engine: Engine, handler: Control) -> Callable[[Request], Awaitable[Response]]:
    async def serve(request: Request) -> Response:
        if not _loopback(request):
            return JSONResponse(
                {"code": "sandbox.control_invalid", "message": "loopback only"}, 403
            )
        raw = await request.body()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
            exc: SandboxError = ControlRefused("请求体不是 JSON / the body is not JSON")
            return JSONResponse({"code": exc.code, "message": exc.message}, exc.status)
        try:
            result = handler(engine, dict(request.path_params), body, dict(request.query_params))
        except SandboxError as exc:
            return JSONResponse({"code": exc.code, "message": exc.message}, exc.status)
        return Response(
            json.dumps(result, ensure_ascii=False, default=str),
            media_type="application/json; charset=utf-8",
        )

    return serve
