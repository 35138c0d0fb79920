"""What the money path needs to run: the provider, the platform's own receivers, where the
provider sends its notifications, and how long to wait before splitting.

Built from settings (a ``credentials.json`` naming key *files*, or the environment), never from
the database: the store holds no key in clear (docs/payments.md, configuring real credentials).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from jifen.funds.errors import CredentialsInvalid
from jifen.payments import Provider
from jifen.payments.wechat import WeChatPayConfig, WeChatPayProvider

SETTLE_DELAY = timedelta(seconds=65)
"""WeChat refuses a split until the payment has settled (about a minute, payments.md §1.3): the
first split of an order is sent this long after payment."""
RETRY_AFTER = timedelta(seconds=30)
"""How long an instruction the provider could not take waits before it is sent again."""
POLL_AFTER = timedelta(minutes=2)
"""A payment still unpaid this long after creation is queried (its notification may be lost)."""


@dataclass(frozen=True)
class Funds:
    provider: Provider
    reserve_account: str  # the points reserve's receiver (a MERCHANT_ID at the provider)
    reserve_name: str  # its real name, which the provider checks when it is added
    fee_account: str  # the operator's fee receiver
    fee_name: str
    notify_url: str  # Jifen's POST /v1/providers/{provider}/notify, as the provider reaches it
    settle_delay: timedelta = SETTLE_DELAY


def funds_from_credentials(path: Path, notify_url: str) -> Funds:
    """A WeChat Pay service provider's ``credentials.json`` (``jifen sandbox-provider`` writes
    one; a real account uses the same fields, pointing at its own key files)."""
    try:
        creds: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        if str(creds.get("provider", "wechatpay")).startswith("alipay"):
            raise CredentialsInvalid(
                "资金服务目前只接入微信支付 / the money path runs on WeChat Pay only for now "
                "(the Alipay adapter is not wired into it yet: docs/payments.md)"
            )
        config = WeChatPayConfig.from_mapping(creds)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CredentialsInvalid(
            f"支付机构配置不可用 / the provider's credentials {path} cannot be used: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    names = {str(m["mchid"]): str(m.get("name", "")) for m in creds.get("merchants", [])}
    names.update({str(k): str(v) for k, v in creds.get("receiver_names", {}).items()})
    return Funds(
        provider=WeChatPayProvider(config),
        reserve_account=config.reserve_mchid,
        reserve_name=names.get(config.reserve_mchid, ""),
        fee_account=config.fee_mchid,
        fee_name=names.get(config.fee_mchid, ""),
        notify_url=notify_url,
    )
