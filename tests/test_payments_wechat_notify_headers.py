"""Regression: a WeChat Pay notification is verified whatever case its headers arrive in.

Jifen's notify route hands the adapter Starlette's headers, whose names are lower-cased
(``wechatpay-timestamp``); the adapter's freshness check read ``Wechatpay-Timestamp`` only, so
every genuine callback received over HTTP was refused as stale and no payment was ever applied
from a notification (found by tests/test_funds_e2e.py). The SDK's own check accepts the header as
sent, lower-cased and Django's ``HTTP_WECHATPAY_…``; the freshness check reads all three.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from jifen.payments import NotificationRefused
from jifen.payments.wechat import WeChatPayConfig, WeChatPayProvider
from jifen.sandbox._crypto import sign
from sandbox_kit import Kit, Receiver, sandbox

SPELLINGS: dict[str, Callable[[str], str]] = {
    "as-sent": lambda name: name,
    "lower-case": str.lower,  # Starlette / FastAPI: what Jifen's own notify route receives
    "django": lambda name: "HTTP_" + name.upper().replace("-", "_"),
}


@pytest.fixture
def kit(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kit]:
    with sandbox(tmp_path, tmp_path_factory) as k:
        yield k


def _signed_at(kit: Kit, headers: dict[str, str], body: bytes, at: int) -> dict[str, str]:
    """``headers`` re-signed with the platform key as of ``at``: genuine, only old."""
    key = kit.server.engine.platform_key
    nonce = headers["Wechatpay-Nonce"]
    signature = sign(key, f"{at}\n{nonce}\n".encode() + body + b"\n")
    return {**headers, "Wechatpay-Timestamp": str(at), "Wechatpay-Signature": signature}


@pytest.mark.parametrize("spelling", sorted(SPELLINGS))
def test_a_notification_verifies_whatever_the_case_of_its_headers(kit: Kit, spelling: str) -> None:
    spell = SPELLINGS[spelling]
    wx = WeChatPayProvider(WeChatPayConfig.from_mapping(kit.credentials))
    with Receiver() as inbox:
        kit.paid("ORDER0009", 5_000, notify_url=inbox.url)
        headers, body = kit.wait_for(lambda: inbox.received and inbox.received[0])
    note = wx.parse_notification({spell(k): v for k, v in headers.items()}, body)
    assert note.event_type == "TRANSACTION.SUCCESS"
    assert note.resource["out_trade_no"] == "ORDER0009"
    stale = _signed_at(kit, headers, body, int(time.time()) - 600)
    wx.parse_notification(
        _signed_at(kit, headers, body, int(time.time())), body
    )  # re-signing is sound
    with pytest.raises(NotificationRefused):  # signed, but ten minutes old: still refused
        wx.parse_notification({spell(k): v for k, v in stale.items()}, body)
