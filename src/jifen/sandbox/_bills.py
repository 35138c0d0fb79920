"""Bills (payments.md §5, rule 20): the trade bill and the split bill for a China-time date.

Asking for a bill answers ``{hash_type: "SHA1", hash_value, download_url}``; a signed GET on the
URL gives the file (gzip when ``tar_type=GZIP``; the hash is of the uncompressed file), and the
URL expires (``trade_bill_url_ttl_s`` 300, ``split_bill_url_ttl_s`` 30, on the sandbox clock).
The bill for day D exists from D+1 ``bill_ready_hour``:00 China time (``400 STATEMENT_CREATING``
before), only for the last three months (``400 INVALID_REQUEST``), and not at all for a day without
events (``400 NO_STATEMENT_EXIST``, as WeChat answers). Once made it never changes.

Files are CSV: a header row, detail rows whose every field starts with a backtick, a summary
header row and one summary row (backticked too) equal to the column sums. Amounts are yuan with
two decimals, converted from fen with ``Decimal``. The trade bill's columns are WeChat's (ALL);
``SUCCESS`` and ``REFUND`` bills keep the same columns and only filter rows. The split bill's
columns are the sandbox's own (❌ WeChat's list was not found): one row per successful split line,
return or unfreeze, with the join keys ``transaction_id``, ``order_id``/``return_id``,
``out_order_no``/``out_return_no`` and ``detail_id``, and who initiated it (``MERCHANT`` or
``SYSTEM`` for the automatic unfreeze at the end of the freeze window).
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import secrets
from collections.abc import Iterable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from jifen.sandbox._calls import Call, payer_of
from jifen.sandbox._clock import CHINA, bill_time, china_date
from jifen.sandbox._state import BillToken, Merchant
from jifen.sandbox._world import World, invalid, param_error, refuse

TRADE_COLUMNS = [
    "交易时间",
    "公众账号ID",
    "商户号",
    "特约商户号",
    "设备号",
    "微信订单号",
    "商户订单号",
    "用户标识",
    "交易类型",
    "交易状态",
    "付款银行",
    "货币种类",
    "应结订单金额",
    "代金券金额",
    "微信退款单号",
    "商户退款单号",
    "退款金额",
    "充值券退款金额",
    "退款类型",
    "退款状态",
    "商品名称",
    "商户数据包",
    "手续费",
    "费率",
    "订单金额",
    "申请退款金额",
    "费率备注",
]
TRADE_SUMMARY = (
    "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额"
)
SPLIT_COLUMNS = [
    "分账发起时间",
    "分账完成时间",
    "分账方商户号",
    "分账接收方类型",
    "分账接收方账号",
    "微信订单号",
    "微信分账/回退单号",
    "分账明细单号",
    "商户分账/回退单号",
    "业务类型",
    "处理状态",
    "分账金额(元)",
    "分账描述",
    "发起方",
]
SPLIT_SUMMARY = "分账笔数,分账总金额(元),回退笔数,回退总金额(元),解冻笔数,解冻总金额(元)"


def yuan(fen: int) -> str:
    return f"{Decimal(fen).scaleb(-2):.2f}"


def _bill_date(world: World, text: str | None) -> date:
    try:
        day = date.fromisoformat(text or "")
    except ValueError:
        raise param_error("bill_date 须为 YYYY-MM-DD / bill_date must be YYYY-MM-DD") from None
    now_china = world.now.astimezone(CHINA)
    ready_hour = world.state.settings.bill_ready_hour
    if day >= now_china.date() or (
        day == now_china.date() - timedelta(days=1) and now_china.hour < ready_hour
    ):
        raise refuse(400, "STATEMENT_CREATING", "账单尚未生成 / the bill is not ready yet")
    if day < _months_back(now_china.date(), 3):
        raise invalid("仅支持三个月内的账单下载申请 / bills of the last three months only")
    return day


def _months_back(today: date, months: int) -> date:
    month_index = today.year * 12 + today.month - 1 - months
    year, month = divmod(month_index, 12)
    next_month = date(year + (month + 1) // 12, (month + 1) % 12 + 1, 1)
    return date(year, month + 1, min(today.day, (next_month - timedelta(days=1)).day))


def _scope(world: World, call: Call) -> list[Merchant]:
    """The payers a bill covers: the caller, the named sub-merchant, or all of the SP's."""
    if call.caller.kind == "service_provider" and not call.query.get("sub_mchid"):
        subs = world.state.merchants.values()
        return [m for m in subs if m.sp_mchid == call.caller.mchid]
    return [payer_of(world, call, call.query.get("sub_mchid"))]


def _csv(header: list[str], rows: Iterable[list[str]], summary: str, totals: list[str]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(["`" + field for field in row] for row in rows)
    writer.writerow(summary.split(","))
    writer.writerow(["`" + field for field in totals])
    return out.getvalue()


def trade_rows(world: World, payers: set[str], day: date, bill_type: str) -> list[list[str]]:
    rows: list[tuple[Any, list[str]]] = []
    for txn in world.state.transactions.values():
        if txn.payer_mchid not in payers or txn.success_time is None:
            continue
        head = [
            txn.appid, txn.api_mchid, txn.payer_mchid if txn.partner else "0", "",
            txn.transaction_id or "", txn.out_trade_no, txn.openid or "", txn.trade_type,
        ]  # fmt: skip
        rate = f"{Decimal(txn.fee_rate_bp).scaleb(-2):.2f}%"
        if bill_type in ("ALL", "SUCCESS") and china_date(txn.success_time) == day:
            rows.append((txn.success_time, [
                bill_time(txn.success_time), *head, "SUCCESS", "OTHERS", "CNY",
                yuan(txn.total_fen), "0.00", "0", "0", "0.00", "0.00", "", "",
                txn.description, txn.attach or "", yuan(txn.fee_fen), rate,
                yuan(txn.total_fen), "0.00", "",
            ]))  # fmt: skip
        if bill_type == "SUCCESS":
            continue
        for refund in world.state.refunds.values():
            if refund.transaction_key != txn.key or china_date(refund.create_time) != day:
                continue
            rows.append((refund.create_time, [
                bill_time(refund.create_time), *head, "REFUND", "OTHERS", "CNY", "0.00",
                "0.00", refund.refund_id, refund.out_refund_no, yuan(refund.amount_fen), "0.00",
                "ORIGINAL", refund.status, txn.description, txn.attach or "", "0.00", rate,
                "0.00", yuan(refund.amount_fen), "",
            ]))  # fmt: skip
    return [row for _, row in sorted(rows, key=lambda pair: (pair[0], pair[1][5]))]


def _trade_file(rows: list[list[str]]) -> str:
    def total(column: str) -> str:
        index = TRADE_COLUMNS.index(column)
        return yuan(sum(int(Decimal(row[index]) * 100) for row in rows))

    totals = [str(len(rows)), total("应结订单金额"), total("退款金额"), total("充值券退款金额")]
    totals += [total("手续费"), total("订单金额"), total("申请退款金额")]
    return _csv(TRADE_COLUMNS, rows, TRADE_SUMMARY, totals)


def split_rows(world: World, payers: set[str], day: date) -> list[list[str]]:
    rows: list[tuple[Any, list[str]]] = []
    for order in world.state.splits.values():
        if order.payer_mchid not in payers:
            continue
        for line in order.lines:
            if line.result != "SUCCESS" or not line.finish_time:
                continue
            if china_date(line.finish_time) != day:
                continue
            rows.append((line.finish_time, [
                bill_time(line.create_time), bill_time(line.finish_time), order.payer_mchid,
                line.type, line.account, order.transaction_id, order.order_id, line.detail_id,
                order.out_order_no, "解冻" if line.unfreeze else "分账", "SUCCESS",
                yuan(line.amount_fen), line.description, order.initiator,
            ]))  # fmt: skip
    for ret in world.state.returns.values():
        if ret.payer_mchid not in payers or ret.result != "SUCCESS" or not ret.finish_time:
            continue
        if china_date(ret.finish_time) != day:
            continue
        order = world.state.splits[ret.order_key]
        rows.append((ret.finish_time, [
            bill_time(ret.create_time), bill_time(ret.finish_time), ret.payer_mchid,
            "MERCHANT_ID", ret.return_mchid, order.transaction_id, ret.return_id,
            order.lines[ret.line_index].detail_id, ret.out_return_no, "回退", "SUCCESS",
            yuan(ret.amount_fen), ret.description, "MERCHANT",
        ]))  # fmt: skip
    return [row for _, row in sorted(rows, key=lambda pair: (pair[0], pair[1][7]))]


def _split_file(rows: list[list[str]]) -> str:
    totals: list[str] = []
    for kind in ("分账", "回退", "解冻"):
        of_kind = [row for row in rows if row[9] == kind]
        totals += [str(len(of_kind)), yuan(sum(int(Decimal(row[11]) * 100) for row in of_kind))]
    return _csv(SPLIT_COLUMNS, rows, SPLIT_SUMMARY, totals)


def request_bill(world: World, call: Call, *, kind: str) -> dict[str, Any]:
    """``GET /v3/bill/tradebill`` (``trade``) or ``GET /v3/profitsharing/bills`` (``split``)."""
    day = _bill_date(world, call.query.get("bill_date"))
    tar_type = call.query.get("tar_type")
    if tar_type not in (None, "GZIP"):
        raise param_error("tar_type 仅支持 GZIP / tar_type must be GZIP")
    bill_type = call.query.get("bill_type", "ALL") if kind == "trade" else "ALL"
    if bill_type not in ("ALL", "SUCCESS", "REFUND"):
        raise param_error("bill_type 须为 ALL/SUCCESS/REFUND / unknown bill_type")
    payers = sorted(m.mchid for m in _scope(world, call))
    content_key = f"{kind}|{call.caller.mchid}|{','.join(payers)}|{day}|{bill_type}"
    content = world.state.bills.get(content_key)
    if content is None:
        if kind == "trade":
            rows = trade_rows(world, set(payers), day, bill_type)
            content = _trade_file(rows) if rows else ""
        else:
            rows = split_rows(world, set(payers), day)
            content = _split_file(rows) if rows else ""
        world.state.bills[content_key] = content
    if not content:
        raise refuse(400, "NO_STATEMENT_EXIST", "当日无账单 / no bill: nothing happened that day")
    settings = world.state.settings
    ttl = settings.trade_bill_url_ttl_s if kind == "trade" else settings.split_bill_url_ttl_s
    token = secrets.token_urlsafe(24)
    world.state.bill_tokens[token] = BillToken(
        content_key=content_key,
        expires_at=world.now + timedelta(seconds=ttl),
        gzip=tar_type == "GZIP",
    )
    return {
        "hash_type": "SHA1",
        "hash_value": hashlib.sha1(content.encode()).hexdigest(),
        "download_url": f"{call.base_url}/v3/billdownload/file?token={token}",
    }


def download(world: World, call: Call) -> bytes:
    token = world.state.bill_tokens.get(call.query.get("token", ""))
    owner = token.content_key.split("|")[1] if token else None
    if token is None or world.now > token.expires_at or owner != call.caller.mchid:
        raise invalid("下载链接已过期或无效 / the download URL has expired or is unknown")
    content = world.state.bills[token.content_key].encode()
    return gzip.compress(content, mtime=0) if token.gzip else content
