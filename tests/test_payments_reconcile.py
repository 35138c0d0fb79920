"""Reconciliation (issue 10): the sandbox provider's real bills for a day, matched against what
Jifen recorded of it. Everything done and recorded matches; each way the two sides can disagree
gives its own status; the report and its CSV are the same on every run, whatever the order of
the input."""

from __future__ import annotations

import csv
import io
import random
from dataclasses import replace
from datetime import date

import pytest

from bills_kit import DAY, PAID, REFUNDS, SPLITS, Day, fee_fen, run_the_day
from jifen.errors import InvalidRequest
from jifen.payments import (
    BillMalformed,
    OurPayment,
    OurRefund,
    OurReturn,
    OurSplit,
    ReconciliationKind,
    ReconciliationReport,
    ReconciliationStatus,
    SplitRecord,
    TradeRecord,
    parse_split_bill,
    parse_trade_bill,
    reconcile,
    report_csv,
)
from sandbox_kit import OPERATOR, RESERVE

Kind, Status = ReconciliationKind, ReconciliationStatus
Bills = tuple[tuple[TradeRecord, ...], tuple[SplitRecord, ...]]


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> Day:
    return run_the_day(tmp_path_factory.mktemp("reconcile"), tmp_path_factory)


@pytest.fixture(scope="module")
def bills(day: Day) -> Bills:
    return parse_trade_bill(day.trade_bill), parse_split_bill(day.split_bill)


def _run(day: Day, bills: Bills, **changes: object) -> ReconciliationReport:
    return reconcile(DAY, replace(day.ours(), **changes), *bills)  # type: ignore[arg-type]


def _not_matched(report: ReconciliationReport) -> list[tuple[Kind, str, Status]]:
    return [(i.kind, i.key, i.status) for i in report.items if i.status is not Status.MATCHED]


def test_a_day_recorded_as_it_was_done_matches_line_for_line(day: Day, bills: Bills) -> None:
    report = _run(day, bills)
    assert _not_matched(report) == []
    by_kind = {kind: [i.key for i in report.items if i.kind is kind] for kind in Kind}
    system = f"SYSTEM-UNFREEZE-{day.transactions['ORDER0000']}"
    assert by_kind == {
        Kind.PAYMENT: sorted(PAID),
        Kind.REFUND: sorted(REFUNDS),
        Kind.SPLIT: sorted(f"{order}/{account}" for order, account in SPLITS),
        Kind.RETURN: ["RETURN0001"],
        Kind.UNFREEZE: sorted(["SPLIT0002", "UNFREEZE0003", system]),
    }
    assert report.counts == {Status.MATCHED: 13, Status.MISSING_OURS: 0,
                             Status.MISSING_PROVIDER: 0, Status.AMOUNT_DIFFERS: 0}  # fmt: skip
    totals = {t.kind: (t.ours_fen, t.bill_fen, t.bill_fee_fen) for t in report.totals}
    paid = sum(fen for _, fen, _ in PAID.values())
    assert totals[Kind.PAYMENT] == (paid, paid, sum(fee_fen(f) for _, f, _ in PAID.values()))
    assert totals[Kind.REFUND] == (11_000, 11_000, 0)
    assert totals[Kind.SPLIT] == (sum(SPLITS.values()),) * 2 + (None,)
    assert totals[Kind.UNFREEZE][:2] == (0, 4_970 + 9_890 + 7_952)
    payment = next(i for i in report.items if i.key == "ORDER0001")
    assert (payment.provider_ref, payment.diff_fen) == (day.transactions["ORDER0001"], 0)


def test_a_payment_jifen_never_recorded_is_missing_ours(day: Day, bills: Bills) -> None:
    ours = day.ours()
    report = _run(day, bills, payments=[p for p in ours.payments if p.out_trade_no != "ORDER0003"])
    assert _not_matched(report) == [(Kind.PAYMENT, "ORDER0003", Status.MISSING_OURS)]
    [item] = report.of(Status.MISSING_OURS)
    assert (item.ours_fen, item.bill_fen, item.diff_fen) == (None, 8_000, None)
    assert item.provider_ref == day.transactions["ORDER0003"]


def test_a_split_line_jifen_never_recorded_is_missing_ours_with_its_unfreeze(
    day: Day, bills: Bills
) -> None:
    ours = day.ours()
    report = _run(day, bills, splits=[s for s in ours.splits if s.out_order_no != "SPLIT0002"])
    assert _not_matched(report) == [
        (Kind.SPLIT, f"SPLIT0002/{OPERATOR}", Status.MISSING_OURS),
        (Kind.UNFREEZE, "SPLIT0002", Status.MISSING_OURS),  # the order it released is unknown
    ]


def test_a_refund_the_bill_does_not_hold_is_missing_provider(day: Day, bills: Bills) -> None:
    extra = OurRefund("REFUND0009", day.transactions["ORDER0002"], 500)
    report = _run(day, bills, refunds=[*day.ours().refunds, extra])
    assert _not_matched(report) == [(Kind.REFUND, "REFUND0009", Status.MISSING_PROVIDER)]
    [item] = report.of(Status.MISSING_PROVIDER)
    assert (item.ours_fen, item.bill_fen, item.provider_ref) == (500, None, "")


def test_a_return_and_a_split_the_bill_does_not_hold_are_missing_provider(
    day: Day, bills: Bills
) -> None:
    ours = day.ours()
    report = _run(
        day, bills,
        splits=[*ours.splits, OurSplit("SPLIT0003", RESERVE, 10)],
        returns=[*ours.returns, OurReturn("RETURN0002", "SPLIT0001", OPERATOR, 40)],
    )  # fmt: skip
    assert _not_matched(report) == [
        (Kind.SPLIT, f"SPLIT0003/{RESERVE}", Status.MISSING_PROVIDER),
        (Kind.RETURN, "RETURN0002", Status.MISSING_PROVIDER),
    ]


def test_a_split_line_of_another_amount_differs_by_the_fen(day: Day, bills: Bills) -> None:
    splits = [
        replace(s, fen=s.fen + 1) if s.receiver_account == RESERVE else s for s in day.ours().splits
    ]
    report = _run(day, bills, splits=splits)
    assert _not_matched(report) == [(Kind.SPLIT, f"SPLIT0001/{RESERVE}", Status.AMOUNT_DIFFERS)]
    [item] = report.of(Status.AMOUNT_DIFFERS)
    assert (item.ours_fen, item.bill_fen, item.diff_fen) == (201, 200, -1)
    assert item.provider_ref == day.detail_ids[("SPLIT0001", RESERVE)]


def test_a_return_from_another_receiver_differs_and_says_so(day: Day, bills: Bills) -> None:
    report = _run(day, bills, returns=[OurReturn("RETURN0001", "SPLIT0001", OPERATOR, 100)])
    [item] = report.of(Status.AMOUNT_DIFFERS)
    assert (item.kind, item.key, item.diff_fen) == (Kind.RETURN, "RETURN0001", 0)
    assert f"ours {OPERATOR}, bill {RESERVE}" in item.note


def test_a_payment_whose_transaction_jifen_has_not_heard_matches_on_out_trade_no(
    day: Day, bills: Bills
) -> None:
    payments = [replace(p, transaction_id=None) for p in day.ours().payments]
    report = _run(day, bills, payments=payments)
    assert _not_matched(report) == []
    wrong = [replace(payments[0], transaction_id="4200000000000000000000000000")]
    report = _run(day, bills, payments=wrong + payments[1:])
    assert _not_matched(report) == [(Kind.PAYMENT, "ORDER0001", Status.AMOUNT_DIFFERS)]
    assert "transaction_id" in report.of(Status.AMOUNT_DIFFERS)[0].note


def test_the_system_unfreeze_of_an_unknown_transaction_is_missing_ours(
    day: Day, bills: Bills
) -> None:
    report = _run(day, bills, known_transactions=frozenset(), known_orders=frozenset())
    system = f"SYSTEM-UNFREEZE-{day.transactions['ORDER0000']}"
    assert _not_matched(report) == [
        (Kind.UNFREEZE, system, Status.MISSING_OURS),
        (Kind.UNFREEZE, "UNFREEZE0003", Status.MISSING_OURS),
    ]
    assert "initiated by SYSTEM" in report.of(Status.MISSING_OURS)[0].note


def test_a_row_twice_in_the_bill_is_missing_ours_the_second_time(day: Day, bills: Bills) -> None:
    trade, split = bills
    twice = (*trade, trade[0])
    report = reconcile(DAY, day.ours(), twice, split)
    assert _not_matched(report) == [(Kind.PAYMENT, trade[0].out_trade_no, Status.MISSING_OURS)]
    assert "twice in the bill" in report.of(Status.MISSING_OURS)[0].note


def test_the_bill_of_another_day_or_twice_recorded_numbers_are_refused(
    day: Day, bills: Bills
) -> None:
    with pytest.raises(BillMalformed, match="2026-03-03"):
        reconcile(date(2026, 3, 4), day.ours(), *bills)
    ours = day.ours()
    with pytest.raises(InvalidRequest, match="ORDER0001"):
        _run(day, bills, payments=[*ours.payments, OurPayment("ORDER0001", None, 1)])


def test_rerunning_gives_the_same_csv_whatever_the_order_of_the_input(
    day: Day, bills: Bills
) -> None:
    trade, split = bills
    ours = day.ours()
    changed = {"refunds": [*ours.refunds, OurRefund("REFUND0009", "420", 500)]}
    first = report_csv(_run(day, bills, **changed))
    shuffle = random.Random(7).sample
    again = reconcile(
        DAY,
        replace(ours, payments=shuffle(list(ours.payments), len(ours.payments)),
                splits=shuffle(list(ours.splits), len(ours.splits)), **changed),  # type: ignore[arg-type]
        shuffle(list(trade), len(trade)),
        shuffle(list(split), len(split)),
    )  # fmt: skip
    assert report_csv(again) == first
    rows = list(csv.reader(io.StringIO(first)))
    assert rows[0][:3] == ["对账日期 bill_date", "类型 kind", "键 key"]
    items = rows[1:15]
    assert len(items) == 14 and all(row[0] == "2026-03-03" for row in items)
    assert [
        "2026-03-03",
        "refund",
        "REFUND0009",
        "",
        "missing_provider",
        "500",
        "",
        "",
        "",
    ] in items
    summary_header, *summary = rows[15:]
    assert summary_header[2:6] == ["匹配 matched", "长款 missing_ours", "短款 missing_provider",
                                   "金额不符 amount_differs"]  # fmt: skip
    assert [row[1] for row in summary] == [*(k.value for k in Kind), "全部 all"]
    assert summary[-1][2:6] == ["13", "0", "1", "0"]
    assert summary[0][6:] == ["41000", "41000", str(sum(fee_fen(f) for _, f, _ in PAID.values()))]
