"""WeChat's 商家转账 (``/v3/transfer/batches``) for the WeChat adapter: the operator's own
direct-merchant account pays persons' 零钱 by openid — referral rewards, net of the tax withheld.

Why a second API identity: a service provider cannot make a merchant transfer for a sub-merchant;
the batch is the operator's own (a direct merchant, its appid, its key), paid from its balance.
The SDK encrypts each ``user_name`` with WeChat Pay's public key (RSA-OAEP, as it does for split
receivers' names) and sends the ``Wechatpay-Serial`` header that names the key.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jifen.payments.provider import (
    PersonTransferBatch,
    PersonTransferDetail,
    PersonTransferResult,
)

QUERY_PAGE = 100  # the most details one query answers
Call = Callable[..., Any]


@dataclass(frozen=True)
class DirectAccount:
    """A direct merchant's API identity (the operator's account that pays persons)."""

    mchid: str
    appid: str
    private_key: str
    cert_serial_no: str
    apiv3_key: str


def direct_account(creds: Mapping[str, Any], mchid: str) -> DirectAccount | None:
    """The ``merchants`` entry of ``mchid`` in a credentials file, if it has its own API key."""
    for m in creds.get("merchants", []):
        if str(m.get("mchid")) == mchid and m.get("private_key_file"):
            return DirectAccount(
                mchid=mchid,
                appid=str(m["appid"]),
                private_key=Path(m["private_key_file"]).read_text(encoding="utf-8"),
                cert_serial_no=str(m["cert_serial_no"]),
                apiv3_key=str(m["apiv3_key"]),
            )
    return None


def send_batch(call: Call, pay: Any, batch: PersonTransferBatch) -> PersonTransferResult:
    details = [
        {
            "out_detail_no": d.out_detail_no,
            "transfer_amount": d.fen,
            "transfer_remark": d.remark[:32],
            "openid": d.openid,
            **({"user_name": d.user_name} if d.user_name else {}),
        }
        for d in batch.details
    ]
    answer = call(
        pay.transfer_batch,
        out_batch_no=batch.out_batch_no,
        batch_name=batch.name[:32],
        batch_remark=batch.remark[:32],
        total_amount=sum(d.fen for d in batch.details),
        total_num=len(batch.details),
        transfer_detail_list=details,
        notify_url=batch.notify_url,
    )
    return PersonTransferResult(
        str(answer["out_batch_no"]), str(answer.get("batch_id", "")), _state(answer)
    )


def _state(answer: Mapping[str, Any]) -> str:
    return str(answer.get("batch_status", ""))


def query_batch(call: Call, pay: Any, out_batch_no: str) -> PersonTransferResult:
    """The batch and every detail, page by page."""
    details: list[PersonTransferDetail] = []
    offset = 0
    while True:
        answer = call(
            pay.transfer_query_out_batch_no,
            out_batch_no,
            need_query_detail=True,
            offset=offset,
            limit=QUERY_PAGE,
        )
        page = answer.get("transfer_detail_list") or []
        details.extend(
            PersonTransferDetail(
                str(d["out_detail_no"]),
                str(d.get("detail_id", "")),
                str(d.get("detail_status", "")),
                d.get("fail_reason"),
            )
            for d in page
        )
        head = answer.get("transfer_batch") or {}
        if len(page) < QUERY_PAGE:
            return PersonTransferResult(
                str(head.get("out_batch_no", out_batch_no)),
                str(head.get("batch_id", "")),
                _state(head),
                tuple(details),
            )
        offset += QUERY_PAGE
