"""The bill parser (issue 10, reconciliation): real bills the sandbox provider wrote for a day done
through Jifen's WeChat Pay adapter parse into exactly what was done, in fen; any amounts written
as a bill come back exactly; a bill whose summary is not its rows' sum, or that is mangled, is
refused whole with ``payment.bill_malformed`` naming the line."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bills_kit import DAY_10, PAID, REFUNDS, RETURN, SPLITS, Day, at, fee_fen, run_the_day
from jifen.payments import (
    BillMalformed,
    SplitKind,
    TradeKind,
    parse_split_bill,
    parse_trade_bill,
    yuan_to_fen,
)
from jifen.payments.bills import (
    SPLIT_COLUMNS,
    SPLIT_SUMMARY_COLUMNS,
    TRADE_COLUMNS,
    TRADE_SUMMARY_COLUMNS,
)
from sandbox_kit import OPERATOR, SHOP_A, SP


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> Day:
    return run_the_day(tmp_path_factory.mktemp("bills"), tmp_path_factory)


def test_the_trade_bill_holds_every_payment_and_refund_of_the_day_in_fen(day: Day) -> None:
    records = parse_trade_bill(day.trade_bill)
    got = {
        (r.kind, r.out_refund_no or r.out_trade_no): (
            r.at, r.mchid, r.sub_mchid, r.transaction_id, r.out_trade_no, r.amount_fen,
            r.settlement_fen, r.refund_id, r.refund_request_fen, r.refund_fen, r.refund_status,
            r.attach, r.fee_fen,
        )
        for r in records
    }  # fmt: skip
    expected = {
        (TradeKind.PAYMENT, no): (
            DAY_10, SP, payer, day.transactions[no], no, fen, fen, None, 0, 0, "", f"shop/{no}",
            fee_fen(fen),
        )
        for no, (payer, fen, _) in PAID.items()
    }  # fmt: skip
    for no, (order, fen) in REFUNDS.items():
        payer = PAID[order][0]
        expected[(TradeKind.REFUND, no)] = (
            at(120), SP, payer, day.transactions[order], order, 0, 0, day.refund_ids[no], fen,
            fen, "SUCCESS", f"shop/{order}", 0,
        )  # fmt: skip
    assert got == expected
    assert len(records) == len(expected)
    assert {(r.currency, r.trade_type, r.fee_rate) for r in records} == {("CNY", "NATIVE", "0.60%")}
    assert all(r.out_refund_no is None for r in records if r.kind is TradeKind.PAYMENT)


def test_the_split_bill_holds_every_split_return_and_unfreeze_of_the_day(day: Day) -> None:
    records = parse_split_bill(day.split_bill)
    splits = {(r.out_no, r.receiver_account): r for r in records if r.kind is SplitKind.SPLIT}
    assert {k: r.fen for k, r in splits.items()} == SPLITS
    for (order, account), r in splits.items():
        assert (r.started_at, r.finished_at, r.payer, r.receiver_type, r.status) == (
            at(60), at(120), SHOP_A, "MERCHANT_ID", "SUCCESS",
        )  # fmt: skip
        assert (r.provider_no, r.detail_id, r.initiator) == (
            day.order_ids[order], day.detail_ids[(order, account)], "MERCHANT",
        )  # fmt: skip
    [returned] = [r for r in records if r.kind is SplitKind.RETURN]
    out_return_no, order, account, fen = RETURN
    assert (returned.out_no, returned.receiver_account, returned.fen) == (
        out_return_no, account, fen,
    )  # fmt: skip
    assert (returned.provider_no, returned.detail_id) == (
        day.return_id, day.detail_ids[(order, account)],
    )  # fmt: skip
    assert returned.transaction_id == day.transactions["ORDER0001"]
    unfreezes = {r.out_no: r for r in records if r.kind is SplitKind.UNFREEZE}
    system = f"SYSTEM-UNFREEZE-{day.transactions['ORDER0000']}"
    assert {no: (r.fen, r.initiator, r.receiver_account) for no, r in unfreezes.items()} == {
        system: (5_000 - fee_fen(5_000), "SYSTEM", SHOP_A),
        "SPLIT0002": (10_000 - fee_fen(10_000) - 50, "MERCHANT", SHOP_A),
        "UNFREEZE0003": (8_000 - fee_fen(8_000), "MERCHANT", SHOP_A),
    }
    assert unfreezes[system].finished_at == DAY_10
    assert unfreezes["UNFREEZE0003"].provider_no == day.order_ids["UNFREEZE0003"]
    assert unfreezes["SPLIT0002"].detail_id == day.detail_ids[("SPLIT0002", SHOP_A)]
    assert len(records) == len(SPLITS) + 1 + 3


def test_a_bom_and_crlf_line_ends_change_nothing(day: Day) -> None:
    windows = b"\xef\xbb\xbf" + day.trade_bill.replace(b"\n", b"\r\n")
    assert parse_trade_bill(windows) == parse_trade_bill(day.trade_bill)


@pytest.mark.parametrize(
    ("text", "fen"),
    [("0.00", 0), ("1.50", 150), ("12", 1200), ("-0.60", -60), ("1.230", 123), ("98.9", 9890)],
)
def test_yuan_become_fen_exactly(text: str, fen: int) -> None:
    assert yuan_to_fen(text) == fen


@pytest.mark.parametrize("text", ["1.005", "0.001", "1e2", "NaN", "", "¥1.00", "1,000.00", " 1"])
def test_what_is_not_a_whole_number_of_fen_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        yuan_to_fen(text)


def _yuan(fen: int) -> str:
    return f"{Decimal(fen).scaleb(-2):.2f}"


def _bill(header: tuple[str, ...], rows: list[list[str]], summary: tuple[str, ...],
          totals: list[str], *, bom: bool = False, crlf: bool = False) -> bytes:  # fmt: skip
    """A bill as WeChat writes one: backticks on every detail and summary field."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n" if crlf else "\n")
    writer.writerow(header)
    writer.writerows(["`" + cell for cell in row] for row in rows)
    writer.writerow(summary)
    writer.writerow(["`" + cell for cell in totals])
    return (b"\xef\xbb\xbf" if bom else b"") + out.getvalue().encode()


_FEN = st.integers(min_value=0, max_value=10**12)
_TRADE_ROW = st.tuples(st.booleans(), _FEN, _FEN, _FEN)  # refund?, amount, fee, voucher


def _trade_rows(specs: list[tuple[bool, int, int, int]]) -> list[list[str]]:
    rows = []
    for n, (refund, fen, fee, voucher) in enumerate(specs):
        order, paid = f"O{n}", "0.00"
        row = dict.fromkeys(TRADE_COLUMNS, "")
        row |= {"交易时间": "2026-03-03 23:59:59", "商户号": SP, "特约商户号": SHOP_A,
                "微信订单号": f"42{n}", "商户订单号": order, "货币种类": "CNY",
                "代金券金额": _yuan(voucher), "充值券退款金额": "0.00", "手续费": _yuan(fee),
                "费率": "0.60%", "商品名称": "午餐, 饮料"}  # fmt: skip
        if refund:
            row |= {"交易状态": "REFUND", "微信退款单号": f"50{n}", "商户退款单号": f"R{n}",
                    "退款金额": _yuan(fen), "申请退款金额": _yuan(fen), "应结订单金额": paid,
                    "订单金额": paid, "退款状态": "PROCESSING"}  # fmt: skip
        else:
            row |= {"交易状态": "SUCCESS", "微信退款单号": "0", "商户退款单号": "0",
                    "退款金额": paid, "申请退款金额": paid, "应结订单金额": _yuan(fen),
                    "订单金额": _yuan(fen)}  # fmt: skip
        rows.append([row[column] for column in TRADE_COLUMNS])
    return rows


def _trade_totals(specs: list[tuple[bool, int, int, int]]) -> list[str]:
    paid = sum(fen for refund, fen, _, _ in specs if not refund)
    refunded = sum(fen for refund, fen, _, _ in specs if refund)
    fees = sum(fee for _, _, fee, _ in specs)
    totals = [str(len(specs)), _yuan(paid), _yuan(refunded), "0.00", _yuan(fees)]
    return [*totals, _yuan(paid), _yuan(refunded)]


@given(specs=st.lists(_TRADE_ROW, max_size=12), bom=st.booleans(), crlf=st.booleans())
def test_any_fen_written_as_a_trade_bill_come_back_exactly(
    specs: list[tuple[bool, int, int, int]], bom: bool, crlf: bool
) -> None:
    content = _bill(TRADE_COLUMNS, _trade_rows(specs), TRADE_SUMMARY_COLUMNS,
                    _trade_totals(specs), bom=bom, crlf=crlf)  # fmt: skip
    records = parse_trade_bill(content)
    assert [
        (r.kind is TradeKind.REFUND, r.refund_fen if r.kind is TradeKind.REFUND else r.amount_fen,
         r.fee_fen, r.coupon_fen)
        for r in records
    ] == specs  # fmt: skip
    assert all(r.description == "午餐, 饮料" for r in records)


@given(
    specs=st.lists(_TRADE_ROW, min_size=1, max_size=8),
    column=st.integers(min_value=0, max_value=len(TRADE_SUMMARY_COLUMNS) - 1),
    off=st.sampled_from([-1, 1]),
)
def test_a_trade_bill_whose_summary_is_off_by_one_is_refused(
    specs: list[tuple[bool, int, int, int]], column: int, off: int
) -> None:
    totals = _trade_totals(specs)
    stated = int(totals[column]) if column == 0 else yuan_to_fen(totals[column])
    totals[column] = str(stated + off) if column == 0 else _yuan(stated + off)
    content = _bill(TRADE_COLUMNS, _trade_rows(specs), TRADE_SUMMARY_COLUMNS, totals)
    with pytest.raises(BillMalformed) as refused:
        parse_trade_bill(content)
    assert refused.value.context["line"] == len(specs) + 3
    assert TRADE_SUMMARY_COLUMNS[column] in refused.value.message


_SPLIT_ROW = st.tuples(st.sampled_from(["分账", "回退", "解冻"]), _FEN)


def _split_bill(specs: list[tuple[str, int]], tamper: tuple[int, int] | None = None) -> bytes:
    rows = [
        ["2026-03-03 00:00:00", "2026-03-03 00:00:59", SHOP_A, "MERCHANT_ID", OPERATOR, f"42{n}",
         f"30{n}", f"36{n}", f"S{n}", kind, "SUCCESS", _yuan(fen), "分账", "MERCHANT"]
        for n, (kind, fen) in enumerate(specs)
    ]  # fmt: skip
    totals: list[int] = []
    for kind in ("分账", "回退", "解冻"):
        of_kind = [fen for k, fen in specs if k == kind]
        totals += [len(of_kind), sum(of_kind)]
    if tamper:
        totals[tamper[0]] += tamper[1]
    cells = [str(t) if i % 2 == 0 else _yuan(t) for i, t in enumerate(totals)]
    return _bill(SPLIT_COLUMNS, rows, SPLIT_SUMMARY_COLUMNS, cells)


@given(specs=st.lists(_SPLIT_ROW, max_size=12))
def test_any_fen_written_as_a_split_bill_come_back_exactly(specs: list[tuple[str, int]]) -> None:
    kinds = {"分账": SplitKind.SPLIT, "回退": SplitKind.RETURN, "解冻": SplitKind.UNFREEZE}
    records = parse_split_bill(_split_bill(specs))
    assert [(r.kind, r.fen) for r in records] == [(kinds[k], fen) for k, fen in specs]


@given(
    specs=st.lists(_SPLIT_ROW, max_size=8),
    column=st.integers(min_value=0, max_value=5),
    off=st.sampled_from([-1, 1]),
)
def test_a_split_bill_whose_summary_is_off_is_refused(
    specs: list[tuple[str, int]], column: int, off: int
) -> None:
    with pytest.raises(BillMalformed) as refused:
        parse_split_bill(_split_bill(specs, (column, off)))
    assert SPLIT_SUMMARY_COLUMNS[column] in refused.value.message


def _mangle(content: bytes, old: str, new: str) -> bytes:
    assert old.encode() in content
    return content.replace(old.encode(), new.encode(), 1)


@pytest.mark.parametrize(
    ("old", "new", "line", "says"),
    [
        ("`200.00,`0.00,`0,", "`200.001,`0.00,`0,", 2, "应结订单金额"),  # not whole fen
        ("`SUCCESS,`OTHERS", "`REVOKED,`OTHERS", 2, "REVOKED"),
        ("`2026-03-03 10:00:00,", "`2026-03-03T10:00,", 2, "交易时间"),
        ("`ORDER0002,", "`,", 3, "商户订单号"),
        ("`shop/ORDER0003,", "`shop/ORDER0003,`extra,", 4, "wrong width"),
        ("订单金额,申请退款金额", "订单金额,申请退款金额x", 1, "申请退款金额"),
        ("`6,", "`7,", 9, "总交易单数"),
    ],
)
def test_a_mangled_trade_bill_is_refused_naming_the_line(
    day: Day, old: str, new: str, line: int, says: str
) -> None:
    with pytest.raises(BillMalformed) as refused:
        parse_trade_bill(_mangle(day.trade_bill, old, new))
    assert refused.value.code == "payment.bill_malformed" and refused.value.status == 502
    assert refused.value.context["line"] == line
    assert f"第 {line} 行 / line {line}" in refused.value.message and says in refused.value.message


def test_a_bill_cut_short_or_not_a_bill_is_refused(day: Day) -> None:
    cut = day.trade_bill[: day.trade_bill.index("总交易单数".encode())]
    for content in (cut, b"", b"\n\n", "交易时间\n".encode("gbk"), day.split_bill):
        with pytest.raises(BillMalformed):
            parse_trade_bill(content)
    with pytest.raises(BillMalformed, match="业务类型"):
        parse_split_bill(_mangle(day.split_bill, "`分账,", "`提现,"))
