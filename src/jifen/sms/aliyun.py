"""Aliyun SMS (阿里云短信服务, Dysmsapi 2017-05-25) through its official SDK.

Configured from a credentials JSON file, never the database (like the payment providers'):

    {"access_key_id": "...", "access_key_secret": "...", "sign_name": "积分联盟",
     "template_code": "SMS_123456789", "endpoint": "dysmsapi.aliyuncs.com"}

The template is one the operator registered with Aliyun, with a ``${code}`` variable (Aliyun
reviews templates; a sign-in template has the code only). ``endpoint`` (optional) and
``protocol`` (optional, ``https`` by default) exist so the tests can point the SDK at a loopback
stub; in production leave both out.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alibabacloud_dysmsapi20170525 import models as sms_models  # type: ignore[import-untyped]
from alibabacloud_dysmsapi20170525.client import Client  # type: ignore[import-untyped]
from alibabacloud_tea_openapi import models as api_models  # type: ignore[import-untyped]

from jifen.sms.errors import SmsFailed, SmsNotConfigured

DEFAULT_ENDPOINT = "dysmsapi.aliyuncs.com"
REQUIRED = ("access_key_id", "access_key_secret", "sign_name", "template_code")


@dataclass(frozen=True)
class AliyunSettings:
    access_key_id: str
    access_key_secret: str
    sign_name: str
    template_code: str
    endpoint: str = DEFAULT_ENDPOINT
    protocol: str = "https"

    def __repr__(self) -> str:  # never the secret in a log or a traceback
        return f"AliyunSettings(access_key_id={self.access_key_id!r}, endpoint={self.endpoint!r})"


def load_settings(path: Path) -> AliyunSettings:
    """The credentials file, checked: a missing field is refused at start, not at first SMS."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SmsNotConfigured(
            f"短信凭据文件无法读取 / cannot read the SMS credentials file {path}: {exc}",
            path=str(path),
        ) from exc
    missing = [name for name in REQUIRED if not isinstance(raw.get(name), str) or not raw[name]]
    if not isinstance(raw, dict) or missing:
        raise SmsNotConfigured(
            f"短信凭据文件缺少字段 / the SMS credentials file lacks {missing}", path=str(path)
        )
    extra = {k: str(raw[k]) for k in ("endpoint", "protocol") if raw.get(k)}
    return AliyunSettings(**{name: str(raw[name]) for name in REQUIRED}, **extra)


class AliyunSms:
    """``SmsSender`` over Aliyun's ``SendSms`` action: one message, the code as the template's
    ``code`` parameter. Any refusal (a code other than ``OK``) or network failure is
    ``SmsFailed`` naming Aliyun's code, so the page says the message was not sent."""

    name = "aliyun"

    def __init__(self, settings: AliyunSettings) -> None:
        self.settings = settings
        self._client = Client(
            api_models.Config(
                access_key_id=settings.access_key_id,
                access_key_secret=settings.access_key_secret,
                endpoint=settings.endpoint,
                protocol=settings.protocol,
                connect_timeout=5000,
                read_timeout=10000,
            )
        )

    @classmethod
    def from_file(cls, path: Path) -> AliyunSms:
        return cls(load_settings(path))

    def send_code(self, phone: str, code: str, ttl_minutes: int) -> None:
        request = sms_models.SendSmsRequest(
            phone_numbers=phone,
            sign_name=self.settings.sign_name,
            template_code=self.settings.template_code,
            template_param=json.dumps({"code": code}),
        )
        try:
            response: Any = self._client.send_sms(request)
        except Exception as exc:  # the SDK raises its own TeaException and the network's errors
            provider_code = getattr(exc, "code", None) or type(exc).__name__
            raise SmsFailed(
                f"短信发送失败 / the SMS provider refused the message: {provider_code}",
                provider_code=str(provider_code),
            ) from exc
        body = getattr(response, "body", None)
        provider_code = getattr(body, "code", None)
        if provider_code != "OK":
            raise SmsFailed(
                f"短信发送失败 / the SMS provider refused the message: {provider_code}",
                provider_code=str(provider_code),
            )
