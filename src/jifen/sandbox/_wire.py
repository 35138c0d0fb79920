"""The WeChat Pay v3 wire: signature checks in, signed JSON out (payments.md §1.5, rules 1–2).

Every ``/v3/…`` and ``/depository/…`` request must carry a valid ``Authorization`` from an API
merchant: its mchid, its certificate serial, a signature by its key over
``METHOD\\nURL\\nTS\\nNONCE\\nBODY\\n`` (URL exactly as sent, ``?&out_order_no=…`` included), and a
timestamp within 300 s of the wall clock; otherwise ``401 SIGN_ERROR`` before anything is read
or changed. Every answer, refusals included, is signed with the platform key under
``PUB_KEY_ID_…``; bill files alone are not (as WeChat does not sign them).

The outage switch lives here too: ``5xx`` answers ``500 SYSTEM_ERROR`` without doing anything;
``5xx_after`` does the work and then answers 500, so a client learns to replay safely.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from jifen.sandbox._calls import Call
from jifen.sandbox._crypto import parse_authorization, request_message, signed_headers, verify
from jifen.sandbox._engine import Engine
from jifen.sandbox._state import Merchant
from jifen.sandbox._world import World, param_error, refuse
from jifen.sandbox.errors import WireRefusal

log = logging.getLogger("jifen.sandbox")
MAX_SKEW_S = 300
MAX_BODY_BYTES = 1_000_000
Handler = Callable[[World, Call], dict[str, Any] | bytes | None]


def _json_bytes(body: dict[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def signed(engine: Engine, status: int, body: dict[str, Any] | None) -> Response:
    content = b"" if body is None else _json_bytes(body)
    headers = signed_headers(engine.platform_key, engine.state.platform_public_key_id, content)
    headers["Request-ID"] = str(uuid.uuid4())
    media = None if body is None else "application/json; charset=utf-8"
    return Response(content, status_code=status, headers=headers, media_type=media)


def refusal(engine: Engine, exc: WireRefusal) -> Response:
    return signed(engine, exc.status, {"code": exc.wire_code, "message": exc.message})


def _sign_error(message: str) -> WireRefusal:
    return refuse(401, "SIGN_ERROR", f"签名错误 / signature refused: {message}")


def check_timestamp(timestamp: str, now: float) -> None:
    """Refuse a signed timestamp more than ``MAX_SKEW_S`` seconds from ``now`` (rule 1).

    ``now`` is a parameter so the boundary is tested exactly; over HTTP a client's whole-second
    timestamp and the time the request takes to arrive blur it by up to a second or more.
    """
    try:
        skew = abs(now - int(timestamp))
    except ValueError:
        raise _sign_error("timestamp 不是整数 / timestamp is not an integer") from None
    if skew > MAX_SKEW_S:
        raise _sign_error("请求时间与服务器时间相差超过5分钟 / timestamp is more than 300 s off")


def authenticate(engine: Engine, request: Request, url: str, body: bytes) -> Merchant:
    """The API merchant that signed this request, or ``401 SIGN_ERROR`` (rule 1)."""
    auth = parse_authorization(request.headers.get("authorization"))
    if auth is None:
        raise _sign_error("Authorization 缺失或格式错误 / missing or malformed Authorization")
    with engine.lock:
        merchant = engine.state.merchants.get(auth.mchid)
        key = engine.merchant_key(auth.mchid)
    if merchant is None or key is None:
        raise _sign_error("商户号不存在或未开通API / unknown merchant or no API key")
    if auth.serial_no != merchant.cert_serial_no:
        raise _sign_error("证书序列号错误 / serial_no is not the merchant's certificate")
    check_timestamp(auth.timestamp, time.time())
    message = request_message(request.method, url, auth.timestamp, auth.nonce_str, body)
    if not verify(key, message, auth.signature):
        raise _sign_error("签名验证失败 / the signature does not verify")
    return merchant


def _outage_before(engine: Engine) -> str | None:
    """The outage mode this request meets, consuming one of its counted requests."""
    with engine.lock:
        faults = engine.state.faults
        mode = faults.outage
        if mode is not None and faults.outage_requests is not None:
            faults.outage_requests -= 1
            if faults.outage_requests <= 0:
                faults.outage, faults.outage_requests = None, None
        return mode


def _parse_body(body: bytes) -> Any:
    if not body:
        return None
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise param_error("请求体不是合法的 JSON / the body is not JSON") from None


def _reply(engine: Engine, result: dict[str, Any] | bytes | None) -> Response:
    if isinstance(result, bytes):  # a bill file: not signed
        return Response(result, media_type="application/octet-stream")
    return signed(engine, 204 if result is None else 200, result)


def endpoint(engine: Engine, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    async def serve(request: Request) -> Response:
        body = await request.body()
        query_string = request.scope.get("query_string", b"").decode("latin-1")
        raw_path = request.scope.get("raw_path") or request.url.path.encode()
        url = raw_path.decode("latin-1") + (f"?{query_string}" if query_string else "")
        try:
            if len(body) > MAX_BODY_BYTES:
                raise param_error("请求体过大 / the body is too large")
            outage = _outage_before(engine)
            if outage == "5xx":
                raise refuse(500, "SYSTEM_ERROR", "系统错误 / provider down (sandbox outage)")
            call = Call(
                caller=authenticate(engine, request, url, body),
                body=_parse_body(body),
                query=dict(request.query_params),
                path={k: str(v) for k, v in request.path_params.items()},
                wechatpay_serial=request.headers.get("wechatpay-serial"),
                base_url=str(request.base_url).rstrip("/"),
            )
            result = engine.locked(lambda world: handler(world, call))
            if outage == "5xx_after":
                raise refuse(500, "SYSTEM_ERROR", "系统错误 / provider down after the work")
            return _reply(engine, result)
        except WireRefusal as exc:
            return refusal(engine, exc)
        except Exception:
            log.exception("sandbox: %s %s failed", request.method, url)
            return signed(engine, 500, {"code": "SYSTEM_ERROR", "message": "系统错误 / bug"})

    return serve
