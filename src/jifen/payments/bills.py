"""The provider's bills (对账单), parsed into typed records in integer fen. Pure: bytes in, records
out — no database, no network, no clock.

Two bills exist for a China-time date D from D+1 10:00 (payments.md §5, docs/sandbox-provider.md
"Bills"). Both are CSV in UTF-8 (a BOM is tolerated): a header row, detail rows whose every field
is prefixed by a backtick (so spreadsheets keep long numbers as text), a summary header row and one
summary row, amounts in yuan with two decimals.

- The **trade bill** (交易账单, ``bill_type=ALL``): WeChat Pay's 27 columns. A ``SUCCESS`` row per
  payment made on D, a ``REFUND`` row per refund *initiated* on D (never updated afterwards, so its
  退款状态 may still say ``PROCESSING``).
- The **split bill** (分账账单): the sandbox's 14 columns (WeChat's list was not found): one row per
  successful split line, return (回退) or unfreeze (解冻) completed on D.

Why the summary is checked: the summary row is the provider's own statement of the detail rows'
sums. A file whose rows do not add up to it was truncated or mangled on the way, and matching it
against Jifen's records would report breaks that are not there (or hide ones that are), so the
whole bill is refused with ``payment.bill_malformed`` naming the line. Every yuan amount goes
through ``Decimal`` and must be a whole number of fen: nothing here rounds.

Columns are found by their header names, not their positions, so a provider adding or reordering
columns does not silently shift amounts into the wrong field; a missing column is refused.
"""

from __future__ import annotations

import csv
import enum
import io
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import TypeVar
from zoneinfo import ZoneInfo

from jifen.payments.errors import BillMalformed

CHINA = ZoneInfo("Asia/Shanghai")  # bill times are China time, without an offset
BILL_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
MAX_YUAN_CHARS = 20  # a sign, 16 digits of yuan and the fen: far beyond any real amount

TRADE_COLUMNS = (
    "交易时间", "公众账号ID", "商户号", "特约商户号", "设备号", "微信订单号", "商户订单号",
    "用户标识", "交易类型", "交易状态", "付款银行", "货币种类", "应结订单金额", "代金券金额",
    "微信退款单号", "商户退款单号", "退款金额", "充值券退款金额", "退款类型", "退款状态",
    "商品名称", "商户数据包", "手续费", "费率", "订单金额", "申请退款金额", "费率备注",
)  # fmt: skip
TRADE_SUMMARY_COLUMNS = (
    "总交易单数", "应结订单总金额", "退款总金额", "充值券退款总金额", "手续费总金额",
    "订单总金额", "申请退款总金额",
)  # fmt: skip
SPLIT_COLUMNS = (
    "分账发起时间", "分账完成时间", "分账方商户号", "分账接收方类型", "分账接收方账号",
    "微信订单号", "微信分账/回退单号", "分账明细单号", "商户分账/回退单号", "业务类型",
    "处理状态", "分账金额(元)", "分账描述", "发起方",
)  # fmt: skip
SPLIT_SUMMARY_COLUMNS = (
    "分账笔数", "分账总金额(元)", "回退笔数", "回退总金额(元)", "解冻笔数", "解冻总金额(元)",
)  # fmt: skip
_T = TypeVar("_T")
_YUAN = re.compile(r"-?[0-9]+(\.[0-9]+)?")
_NONE = ("", "0")  # how the trade bill writes "no such number" (特约商户号 of a direct merchant, …)


class TradeKind(enum.StrEnum):
    PAYMENT = "payment"  # 交易状态 SUCCESS
    REFUND = "refund"  # 交易状态 REFUND


class SplitKind(enum.StrEnum):
    SPLIT = "split"  # 分账
    RETURN = "return"  # 回退
    UNFREEZE = "unfreeze"  # 解冻: the unsplit rest released to the payer


_SPLIT_KINDS = {"分账": SplitKind.SPLIT, "回退": SplitKind.RETURN, "解冻": SplitKind.UNFREEZE}
_SPLIT_SUMMARY = {  # kind → (its count column, its total column)
    SplitKind.SPLIT: ("分账笔数", "分账总金额(元)"),
    SplitKind.RETURN: ("回退笔数", "回退总金额(元)"),
    SplitKind.UNFREEZE: ("解冻笔数", "解冻总金额(元)"),
}


@dataclass(frozen=True, slots=True)
class TradeRecord:
    """One row of the trade bill. ``amount_fen`` is 订单金额 (what the order was created for) and
    ``refund_request_fen`` 申请退款金额 (what the refund asked for): the amounts Jifen itself
    records. ``settlement_fen`` (应结订单金额) and ``refund_fen`` (退款金额) leave out vouchers."""

    kind: TradeKind
    at: datetime  # UTC: paid (payment) or initiated (refund)
    appid: str
    mchid: str
    sub_mchid: str | None  # None for a direct merchant (the bill writes 0)
    transaction_id: str
    out_trade_no: str
    openid: str
    trade_type: str
    currency: str
    amount_fen: int  # 订单金额
    settlement_fen: int  # 应结订单金额
    coupon_fen: int  # 代金券金额
    refund_id: str | None
    out_refund_no: str | None
    refund_fen: int  # 退款金额
    recharge_coupon_refund_fen: int  # 充值券退款金额
    refund_request_fen: int  # 申请退款金额
    refund_type: str
    refund_status: str
    description: str  # 商品名称
    attach: str  # 商户数据包
    fee_fen: int  # 手续费
    fee_rate: str  # 费率, as written (0.60%)


@dataclass(frozen=True, slots=True)
class SplitRecord:
    """One row of the split bill: a split line, a return or an unfreeze that completed."""

    kind: SplitKind
    started_at: datetime  # UTC
    finished_at: datetime  # UTC: the row's date is this one's
    payer: str  # 分账方商户号
    receiver_type: str  # MERCHANT_ID | PERSONAL_OPENID | …
    receiver_account: str
    transaction_id: str
    provider_no: str  # order_id (split, unfreeze) or return_id (return)
    detail_id: str  # the split line's (a return names the line it returns from)
    out_no: str  # out_order_no (split, unfreeze) or out_return_no (return)
    status: str
    fen: int
    description: str
    initiator: str  # MERCHANT, or SYSTEM for the automatic unfreeze


def yuan_to_fen(text: str) -> int:
    """A bill's yuan amount (``123.45``) in fen, exactly; anything else raises ``ValueError``:
    not a plain decimal, or not a whole number of fen (``0.005``)."""
    if len(text) > MAX_YUAN_CHARS or not _YUAN.fullmatch(text):
        raise ValueError(f"不是金额 / not a yuan amount: {text!r}")
    fen = Decimal(text).scaleb(2)
    if fen != fen.to_integral_value():
        raise ValueError(f"不是整分 / not a whole number of fen: {text!r}")
    return int(fen)


# each trade summary column is the sum of one detail column
_TRADE_SUMS: dict[str, Callable[[TradeRecord], int]] = {
    "应结订单总金额": lambda r: r.settlement_fen,
    "退款总金额": lambda r: r.refund_fen,
    "充值券退款总金额": lambda r: r.recharge_coupon_refund_fen,
    "手续费总金额": lambda r: r.fee_fen,
    "订单总金额": lambda r: r.amount_fen,
    "申请退款总金额": lambda r: r.refund_request_fen,
}


def parse_trade_bill(content: bytes) -> tuple[TradeRecord, ...]:
    """The trade bill's records, in file order, after checking its summary row."""
    sheet = _Sheet.read(content, "交易账单 / trade bill", TRADE_COLUMNS, TRADE_SUMMARY_COLUMNS)
    records = tuple(sheet.each(_trade_record))
    sums = {column: sum(field(r) for r in records) for column, field in _TRADE_SUMS.items()}
    sheet.check_summary({"总交易单数": len(records)}, sums)
    return records


def parse_split_bill(content: bytes) -> tuple[SplitRecord, ...]:
    """The split bill's records, in file order, after checking its summary row per kind."""
    sheet = _Sheet.read(content, "分账账单 / split bill", SPLIT_COLUMNS, SPLIT_SUMMARY_COLUMNS)
    records = tuple(sheet.each(_split_record))
    counts: dict[str, int] = {}
    sums: dict[str, int] = {}
    for kind, (count_column, total_column) in _SPLIT_SUMMARY.items():
        counts[count_column] = sum(1 for r in records if r.kind is kind)
        sums[total_column] = sum(r.fen for r in records if r.kind is kind)
    sheet.check_summary(counts, sums)
    return records


class _Row:
    """A detail row's fields by column name, backticks stripped; refusals name its line."""

    def __init__(self, sheet: _Sheet, line: int, cells: list[str]) -> None:
        self.sheet, self.line = sheet, line
        self.cells = {name: cells[i].removeprefix("`") for name, i in sheet.index.items()}

    def refuse(self, problem: str) -> BillMalformed:
        return self.sheet.refuse(self.line, problem)

    def text(self, column: str) -> str:
        return self.cells[column]

    def required(self, column: str) -> str:
        value = self.cells[column]
        if value in _NONE:
            raise self.refuse(f"{column} 为空 / {column} is empty")
        return value

    def optional(self, column: str) -> str | None:
        value = self.cells[column]
        return None if value in _NONE else value

    def fen(self, column: str) -> int:
        try:
            return yuan_to_fen(self.cells[column])
        except ValueError as exc:
            raise self.refuse(f"{column}: {exc}") from None

    def time(self, column: str) -> datetime:
        try:
            local = datetime.strptime(self.cells[column], BILL_TIME_FORMAT)
        except ValueError:
            raise self.refuse(f"{column} 不是时间 / not a time: {self.cells[column]!r}") from None
        return local.replace(tzinfo=CHINA).astimezone(UTC)


class _Sheet:
    """A bill file cut into its header, detail rows and summary row, every line numbered."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.index: dict[str, int] = {}
        self.width = 0
        self.details: list[tuple[int, list[str]]] = []
        self.summary_line = 0
        self.summary: dict[str, str] = {}

    def refuse(self, line: int, problem: str) -> BillMalformed:
        return BillMalformed(f"{self.name} 第 {line} 行 / line {line}: {problem}", line=line)

    @classmethod
    def read(
        cls, content: bytes, name: str, columns: Sequence[str], summary_columns: Sequence[str]
    ) -> _Sheet:
        try:
            text = content.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise BillMalformed(f"{name} 不是 UTF-8 / is not UTF-8: {exc}", line=0) from None
        rows = [
            (number, row)
            for number, row in _numbered(text)
            if any(cell.strip() for cell in row)  # blank lines (a trailing newline) carry nothing
        ]
        if not rows:
            raise BillMalformed(f"{name} 为空 / is empty", line=0)
        sheet = cls(name)
        header_line, header = rows[0]
        sheet.index, sheet.width = _columns(sheet, header_line, header, columns), len(header)
        ends = [i for i, (_, row) in enumerate(rows) if _stripped(row) == list(summary_columns)]
        if len(ends) != 1 or ends[0] != len(rows) - 2:
            raise sheet.refuse(rows[-1][0], "缺少汇总行 / no single summary row at the end")
        sheet.details = rows[1 : ends[0]]
        sheet.summary_line, summary = rows[-1]
        if len(summary) != len(summary_columns):
            raise sheet.refuse(sheet.summary_line, "汇总行列数不符 / summary row has wrong width")
        sheet.summary = {
            column: cell.removeprefix("`")
            for column, cell in zip(summary_columns, summary, strict=True)
        }
        return sheet

    def each(self, build: Callable[[_Row], _T]) -> list[_T]:
        built = []
        for line, cells in self.details:
            if len(cells) != self.width:
                raise self.refuse(line, f"{len(cells)} 列，应为 {self.width} / wrong width")
            built.append(build(_Row(self, line, cells)))
        return built

    def check_summary(self, counts: dict[str, int], sums: dict[str, int]) -> None:
        """The summary row must state exactly the detail rows' counts and sums."""
        for column, count in counts.items():
            stated = self.summary[column]
            if stated != str(count):
                raise self.refuse(
                    self.summary_line,
                    f"汇总 {column} 为 {stated}，明细为 {count} 笔 / "
                    f"summary {column} says {stated}, the detail rows are {count}",
                )
        for column, fen in sums.items():
            stated = self.summary[column]
            try:
                stated_fen = yuan_to_fen(stated)
            except ValueError as exc:
                raise self.refuse(self.summary_line, f"{column}: {exc}") from None
            if stated_fen != fen:
                raise self.refuse(
                    self.summary_line,
                    f"汇总 {column} 为 {stated}，明细合计 {_yuan(fen)} / "
                    f"summary {column} says {stated}, the detail rows sum to {_yuan(fen)}",
                )


def _numbered(text: str) -> list[tuple[int, list[str]]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        return [(reader.line_num, row) for row in reader]
    except csv.Error as exc:
        raise BillMalformed(f"CSV 无法读取 / unreadable CSV: {exc}", line=reader.line_num) from None


def _stripped(row: list[str]) -> list[str]:
    return [cell.strip().removeprefix("\ufeff") for cell in row]


def _columns(sheet: _Sheet, line: int, header: list[str], columns: Sequence[str]) -> dict[str, int]:
    names = _stripped(header)
    missing = [column for column in columns if names.count(column) != 1]
    if missing:
        raise sheet.refuse(line, f"表头缺少列 / the header lacks {', '.join(missing)}")
    return {column: names.index(column) for column in columns}


def _yuan(fen: int) -> str:
    return f"{Decimal(fen).scaleb(-2):.2f}"


def _trade_record(row: _Row) -> TradeRecord:
    state = row.text("交易状态")
    if state not in ("SUCCESS", "REFUND"):  # REVOKED: 付款码 orders, which Jifen never makes
        raise row.refuse(f"交易状态 {state!r} 不支持 / trade state not SUCCESS or REFUND")
    kind = TradeKind.PAYMENT if state == "SUCCESS" else TradeKind.REFUND
    refund = kind is TradeKind.REFUND
    return TradeRecord(
        kind=kind,
        at=row.time("交易时间"),
        appid=row.text("公众账号ID"),
        mchid=row.required("商户号"),
        sub_mchid=row.optional("特约商户号"),
        transaction_id=row.required("微信订单号"),
        out_trade_no=row.required("商户订单号"),
        openid=row.text("用户标识"),
        trade_type=row.text("交易类型"),
        currency=row.text("货币种类"),
        amount_fen=row.fen("订单金额"),
        settlement_fen=row.fen("应结订单金额"),
        coupon_fen=row.fen("代金券金额"),
        refund_id=row.required("微信退款单号") if refund else row.optional("微信退款单号"),
        out_refund_no=row.required("商户退款单号") if refund else row.optional("商户退款单号"),
        refund_fen=row.fen("退款金额"),
        recharge_coupon_refund_fen=row.fen("充值券退款金额"),
        refund_request_fen=row.fen("申请退款金额"),
        refund_type=row.text("退款类型"),
        refund_status=row.text("退款状态"),
        description=row.text("商品名称"),
        attach=row.text("商户数据包"),
        fee_fen=row.fen("手续费"),
        fee_rate=row.text("费率"),
    )


def _split_record(row: _Row) -> SplitRecord:
    kind = _SPLIT_KINDS.get(row.text("业务类型"))
    if kind is None:
        raise row.refuse(f"业务类型 {row.text('业务类型')!r} 不是 分账/回退/解冻 / unknown kind")
    return SplitRecord(
        kind=kind,
        started_at=row.time("分账发起时间"),
        finished_at=row.time("分账完成时间"),
        payer=row.required("分账方商户号"),
        receiver_type=row.text("分账接收方类型"),
        receiver_account=row.required("分账接收方账号"),
        transaction_id=row.required("微信订单号"),
        provider_no=row.required("微信分账/回退单号"),
        detail_id=row.text("分账明细单号"),
        out_no=row.required("商户分账/回退单号"),
        status=row.text("处理状态"),
        fen=row.fen("分账金额(元)"),
        description=row.text("分账描述"),
        initiator=row.text("发起方"),
    )
