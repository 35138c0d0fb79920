"""Alipay's wire under the adapter (``alipay.py``): the SDK's client with Jifen's transport and
answer checks, exact yuan, China times, and account types.

Why a subclass of the SDK's client: ``python-alipay-sdk`` signs requests (RSA2 over the sorted
parameters) and verifies signatures, which is what it is for; but its one network call,
``verified_sync_response``, GETs the whole signed request in the URL (into every access log and
proxy on the way), lets a refused answer through without telling it from a success, and finds
the signed part of an answer by counting braces (a ``}`` inside a message breaks it). That one
method is replaced here: the request is POSTed as a form, the signed part is cut out by a real
JSON parse, and the SDK's own verifier checks it with Alipay's public key.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import urllib.error
import urllib.request
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from alipay import AliPay  # type: ignore[import-untyped]
from alipay.exceptions import AliPayException  # type: ignore[import-untyped]
from alipay.utils import AliPayConfig  # type: ignore[import-untyped]
from cryptography.hazmat.primitives import serialization

from jifen.errors import InvalidRequest
from jifen.payments.errors import NotificationRefused, ProviderRefused, ProviderUnavailable

CHINA = timezone(timedelta(hours=8), "Asia/Shanghai")
"""Alipay's times (requests' ``timestamp``, answers, notifications) are China time, no zone."""

SUCCESS = "10000"
SERVICE_UNAVAILABLE = "20000"  # isp.*: Alipay's side failed; the same request is retried

_USER_ID = re.compile(r"2088\d{12}")
_PHONE = re.compile(r"1\d{10}")


def yuan(fen: int) -> str:
    """Fen as Alipay's yuan string, exactly: 1 → "0.01", 123456 → "1234.56" (no rounding)."""
    if fen < 0:
        raise InvalidRequest(f"金额不能为负 / an amount cannot be negative: {fen} fen")
    return f"{Decimal(fen).scaleb(-2):.2f}"


def fen_of(text: Any) -> int:
    """Alipay's yuan string as fen, exactly; anything not a whole number of fen is refused
    (``ValueError``) rather than rounded."""
    try:
        hundredths = Decimal(str(text)).scaleb(2)
    except InvalidOperation as exc:
        raise ValueError(f"not an amount in yuan: {text!r}") from exc
    if not hundredths.is_finite() or hundredths != hundredths.to_integral_value():
        raise ValueError(f"not a whole number of fen: {text!r}")
    return int(hundredths)


def china_time(text: Any) -> datetime | None:
    """``2026-03-02 10:00:00`` (China time) as an aware UTC datetime."""
    if not text:
        return None
    return datetime.strptime(str(text), "%Y-%m-%d %H:%M:%S").replace(tzinfo=CHINA).astimezone(UTC)


def china_timestamp(now: datetime) -> str:
    return now.astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S")


def account_type(account: str) -> str:
    """The type Alipay names an account with (``trans_in_type``, a receiver's ``type``): a user
    id (2088 and 12 digits), a login name (an e-mail or a phone number), or else an open_id."""
    if _USER_ID.fullmatch(account):
        return "userId"
    if "@" in account or _PHONE.fullmatch(account):
        return "loginName"
    return "openId"


class AlipayClient(AliPay):  # type: ignore[misc]
    """The SDK's client (public-key mode, RSA2) with the transport described at the top."""

    def __init__(
        self, *, app_id: str, private_key: str, public_key: str, gateway: str, timeout_s: float
    ) -> None:
        super().__init__(
            appid=app_id,
            app_private_key_string=private_key,
            alipay_public_key_string=public_key,
            sign_type="RSA2",
            config=AliPayConfig(timeout=timeout_s),
        )
        self._gateway = gateway

    def verified_sync_response(self, data: dict[str, Any], response_type: str) -> dict[str, Any]:
        body = self.sign_data(data).encode("utf-8")
        raw = fetch(self._gateway, self._config.timeout, body).decode("utf-8", "replace")
        return self.read_answer(raw, response_type)

    def read_answer(self, raw: str, response_type: str) -> dict[str, Any]:
        """The answer's business object, its signature verified; a refusal raised."""
        try:
            whole = json.loads(raw)
            key = response_type if response_type in whole else "error_response"
            start = raw.index("{", raw.index(f'"{key}"'))
            payload, end = json.JSONDecoder().raw_decode(raw, start)
            if not isinstance(whole, dict) or not isinstance(payload, dict):
                raise ValueError("not an object")
        except ValueError as exc:
            raise ProviderUnavailable("支付宝应答格式错误 / Alipay's answer is malformed") from exc
        sign = whole.get("sign")
        verified = bool(sign) and self.verifies(raw[start:end], str(sign))
        code = str(payload.get("code", ""))
        if not verified and (code == SUCCESS or sign):
            raise ProviderUnavailable("支付宝应答验签失败 / Alipay's answer does not verify")
        if code == SUCCESS:
            return dict(payload)
        sub_code = str(payload.get("sub_code") or "")
        if code == SERVICE_UNAVAILABLE or sub_code.endswith("SYSTEM_ERROR"):
            raise ProviderUnavailable(f"支付宝系统繁忙 / Alipay is busy: {sub_code or code}")
        # Alipay signs business refusals (40004) but not every gateway error (40002 and the
        # like): an unsigned refusal is believed, since believing it moves no money.
        raise ProviderRefused(
            f"支付宝拒绝 / Alipay refused: {sub_code or code} "
            f"{payload.get('sub_msg') or payload.get('msg') or ''}".rstrip(),
            provider_code=sub_code or code,
            provider_status=code,
        )

    def verifies(self, message: str, signature: str) -> bool:
        try:
            return bool(self._verify(message, signature))
        except (ValueError, TypeError, binascii.Error):
            return False

    def verify_notification(self, fields: dict[str, str]) -> None:
        """Checks an asynchronous notification's ``sign`` over its other fields (the SDK's
        ``verify``: ``sign`` and ``sign_type`` left out, the rest sorted)."""
        signature = fields.pop("sign", "")
        try:
            good = bool(signature) and bool(self.verify(fields, signature))
        except (AliPayException, ValueError, TypeError, binascii.Error) as exc:
            raise NotificationRefused(
                "支付宝通知验签失败 / the notification's signature does not verify"
            ) from exc
        if not good:
            raise NotificationRefused(
                "支付宝通知验签失败 / the notification's signature does not verify"
            )


def fetch(url: str, timeout_s: float, body: bytes | None = None) -> bytes:
    """POST a signed form (or GET a bill); anything but a 200 is ``ProviderUnavailable``."""
    headers = {"Content-Type": "application/x-www-form-urlencoded;charset=utf-8"} if body else {}
    request = urllib.request.Request(url, data=body, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as reply:
            content: bytes = reply.read()
            status = int(reply.status)
    except urllib.error.HTTPError as exc:
        raise ProviderUnavailable(f"支付宝 {exc.code} / Alipay answered {exc.code}") from exc
    except OSError as exc:  # refused, reset, timed out, DNS
        raise ProviderUnavailable(
            f"支付宝无应答 / Alipay did not answer: {type(exc).__name__}"
        ) from exc
    if status != 200:
        raise ProviderUnavailable(f"支付宝 {status} / Alipay answered {status}")
    return content


def secret(
    creds: Mapping[str, Any], name: str, env: Mapping[str, str], required: bool = True
) -> str:
    if creds.get(f"{name}_file"):
        return Path(str(creds[f"{name}_file"])).read_text(encoding="utf-8")
    if creds.get(f"{name}_env"):
        variable = str(creds[f"{name}_env"])
        if not env.get(variable):
            raise InvalidRequest(f"环境变量未设置 / {variable} is not set (for {name})")
        return env[variable]
    if required:
        raise InvalidRequest(f"缺少 / missing: {name}_file or {name}_env")
    return ""


def pem(text: str, private: bool) -> str:
    """A PEM as is; the bare base64 of a DER key (what Alipay's key tool prints) as a PEM."""
    if "-----BEGIN" in text:
        return text
    try:
        der = base64.b64decode("".join(text.split()), validate=True)
    except binascii.Error as exc:
        raise InvalidRequest("不是密钥 / not a key: neither PEM nor base64") from exc
    if private:
        key = serialization.load_der_private_key(der, password=None)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    else:
        pem = serialization.load_der_public_key(der).public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    return pem.decode("ascii")
