"""Reconciliation (对账): the provider's bills for one China-time date matched against Jifen's own
records of that date. Pure: records in, a report out; the shell downloads the bills, reads
Jifen's records and stores or prints the report (docs/reconciliation.md).

Every record on either side ends in exactly one item, of one status:

- ``matched`` — both sides have it, with the same amount;
- ``missing_ours`` (长款) — the provider has it, Jifen does not: query the provider, back-fill;
- ``missing_provider`` (短款) — Jifen has it, the bill does not: query the provider (it may land
  on the next day's bill), else mark the instruction failed;
- ``amount_differs`` — both have it, but the amounts (or, for refunds and returns, the
  transaction or receiver) disagree: investigate; corrections are new ledger entries.

Keys (payments.md §5): payments on ``transaction_id``, falling back to ``out_trade_no`` when
Jifen has not recorded the transaction yet (its notification was lost); refunds on
``out_refund_no``; split lines on ``(out_order_no, receiver_account)``; returns on
``out_return_no``. Unfreeze rows (解冻) move the payer's own money back to itself, so they are
informational: ``matched`` when Jifen knows the order that asked for it (or, for the automatic
unfreeze at the end of the freeze window, the transaction), else ``missing_ours``.

What is compared is what Jifen asked for: a payment's 订单金额 and a refund's 申请退款金额.

Why the output is fully determined by the input: re-running a day must give the same report,
byte for byte, so that a second run proves nothing changed and a difference always means the
data did. Items are sorted by (kind, key, provider reference); bill rows are matched in that
order too, so the order of the input never shows.
"""

from __future__ import annotations

import csv
import enum
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from jifen.errors import InvalidRequest
from jifen.payments.bills import CHINA, SplitKind, SplitRecord, TradeKind, TradeRecord
from jifen.payments.errors import BillMalformed


class ReconciliationKind(enum.StrEnum):
    PAYMENT = "payment"
    REFUND = "refund"
    SPLIT = "split"
    RETURN = "return"
    UNFREEZE = "unfreeze"


class ReconciliationStatus(enum.StrEnum):
    MATCHED = "matched"
    MISSING_OURS = "missing_ours"  # 长款: at the provider, not in Jifen
    MISSING_PROVIDER = "missing_provider"  # 短款: in Jifen, not in the bill
    AMOUNT_DIFFERS = "amount_differs"


@dataclass(frozen=True, slots=True)
class OurPayment:
    out_trade_no: str
    transaction_id: str | None  # None until Jifen has heard the provider's transaction id
    amount_fen: int


@dataclass(frozen=True, slots=True)
class OurRefund:
    out_refund_no: str
    transaction_id: str
    refund_fen: int


@dataclass(frozen=True, slots=True)
class OurSplit:
    """One receiver's line of a split instruction that completed on the date."""

    out_order_no: str
    receiver_account: str
    fen: int


@dataclass(frozen=True, slots=True)
class OurReturn:
    out_return_no: str
    out_order_no: str
    receiver_account: str
    fen: int


@dataclass(frozen=True, slots=True)
class Ours:
    """Jifen's records for the bill's date (China time): payments paid, refunds *initiated*,
    split lines and returns *completed* on it — the rows the provider's bills hold.

    ``known_orders`` and ``known_transactions`` answer the unfreeze rows only, whatever their
    date: the ``out_order_no`` of every split or unfreeze instruction Jifen sent, and the
    ``transaction_id`` of every payment it knows (the shell looks up the ones the split bill's
    unfreeze rows name). The ``out_order_no`` of ``splits`` count as known orders too."""

    payments: Sequence[OurPayment] = ()
    refunds: Sequence[OurRefund] = ()
    splits: Sequence[OurSplit] = ()
    returns: Sequence[OurReturn] = ()
    known_orders: frozenset[str] = frozenset()
    known_transactions: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class ReconciliationItem:
    """One record of either side and what became of it. ``key`` is the merchant-side number
    (``out_trade_no``, ``out_refund_no``, ``out_order_no/receiver_account``, ``out_return_no``,
    the unfreeze's ``out_order_no``); ``provider_ref`` the provider's (transaction, refund,
    detail or return id)."""

    kind: ReconciliationKind
    key: str
    provider_ref: str
    status: ReconciliationStatus
    ours_fen: int | None
    bill_fen: int | None
    note: str = ""

    @property
    def diff_fen(self) -> int | None:
        """The bill's amount less Jifen's, when both sides have one."""
        if self.ours_fen is None or self.bill_fen is None:
            return None
        return self.bill_fen - self.ours_fen


@dataclass(frozen=True, slots=True)
class ReconciliationTotal:
    """Per kind: each side's total in fen and the bill's fees (trade kinds only)."""

    kind: ReconciliationKind
    ours_fen: int
    bill_fen: int
    bill_fee_fen: int | None


@dataclass(frozen=True, slots=True)
class ReconciliationReport:
    bill_date: date
    items: tuple[ReconciliationItem, ...]
    counts: Mapping[ReconciliationStatus, int] = field(hash=False)
    totals: tuple[ReconciliationTotal, ...]

    def of(self, status: ReconciliationStatus) -> tuple[ReconciliationItem, ...]:
        return tuple(item for item in self.items if item.status is status)


def reconcile(
    bill_date: date, ours: Ours, trade: Sequence[TradeRecord], split: Sequence[SplitRecord]
) -> ReconciliationReport:
    """Match one date's bills against Jifen's records of that date (see the module docstring).
    A bill record dated another day is refused (``payment.bill_malformed``): the wrong file."""
    _check_dates(bill_date, trade, split)
    payments = [r for r in trade if r.kind is TradeKind.PAYMENT]
    refunds = [r for r in trade if r.kind is TradeKind.REFUND]
    items = [
        *_payments(ours.payments, payments),
        *_refunds(ours.refunds, refunds),
        *_splits(ours.splits, [r for r in split if r.kind is SplitKind.SPLIT]),
        *_returns(ours.returns, [r for r in split if r.kind is SplitKind.RETURN]),
        *_unfreezes(ours, [r for r in split if r.kind is SplitKind.UNFREEZE]),
    ]
    order = list(ReconciliationKind)
    items.sort(key=lambda i: (order.index(i.kind), i.key, i.provider_ref, i.status))
    fees = {
        ReconciliationKind.PAYMENT: sum(r.fee_fen for r in payments),
        ReconciliationKind.REFUND: sum(r.fee_fen for r in refunds),
    }
    totals = tuple(
        ReconciliationTotal(
            kind,
            sum(i.ours_fen or 0 for i in items if i.kind is kind),
            sum(i.bill_fen or 0 for i in items if i.kind is kind),
            fees.get(kind),
        )
        for kind in ReconciliationKind
    )
    counts = {
        status: sum(1 for i in items if i.status is status) for status in ReconciliationStatus
    }
    return ReconciliationReport(bill_date, tuple(items), counts, totals)


def _check_dates(day: date, trade: Sequence[TradeRecord], split: Sequence[SplitRecord]) -> None:
    stamps = [(r.at, r.out_refund_no or r.out_trade_no) for r in trade]
    stamps += [(r.finished_at, r.out_no) for r in split]
    for when, number in stamps:
        if when.astimezone(CHINA).date() != day:
            raise BillMalformed(
                f"{number} 记于 {when.astimezone(CHINA):%Y-%m-%d}，不属于 {day} 的账单 / "
                f"is dated {when.astimezone(CHINA):%Y-%m-%d}, not in the bill of {day}",
                line=0,
            )


DUPLICATE = "账单中重复 / twice in the bill"


@dataclass(frozen=True, slots=True)
class _Entry:
    """A record of either side, reduced to what matching needs. ``keys`` are tried in turn (a
    payment: its transaction id, then its out_trade_no); ``facts`` must agree where Jifen has
    them; ``info`` is a remark that changes no status (a refund still PROCESSING)."""

    keys: tuple[str | None, ...]
    label: str
    ref: str
    fen: int
    facts: tuple[tuple[str, str | None], ...] = ()
    info: str = ""


def _match(
    kind: ReconciliationKind, ours: Sequence[_Entry], bill: Sequence[_Entry]
) -> list[ReconciliationItem]:
    slots: list[dict[str, int]] = [{} for _ in range(max((len(e.keys) for e in ours), default=0))]
    for n, entry in enumerate(ours):
        for slot, key in zip(slots, entry.keys, strict=False):
            if key is not None and slot.setdefault(key, n) != n:
                raise InvalidRequest(
                    f"我方记录重复 / Jifen's records name {kind} {key} twice", key=key
                )
    used: set[int] = set()
    items = []
    for row in sorted(bill, key=lambda e: (e.label, e.ref, e.fen)):
        found = next((s[k] for s, k in zip(slots, row.keys, strict=False) if k in s), None)
        if found is None or found in used:
            note = DUPLICATE if found is not None else row.info
            items.append(
                ReconciliationItem(
                    kind, row.label, row.ref, ReconciliationStatus.MISSING_OURS, None, row.fen, note
                )
            )
            continue
        used.add(found)
        mine = ours[found]
        known = dict(mine.facts)
        differs = [
            f"{name}：我方 {known[name]}，账单 {value} / {name}: ours {known[name]}, bill {value}"
            for name, value in row.facts
            if known.get(name) not in (None, value)
        ]
        status = (
            ReconciliationStatus.AMOUNT_DIFFERS
            if differs or mine.fen != row.fen
            else ReconciliationStatus.MATCHED
        )
        note = "; ".join(text for text in (*differs, row.info) if text)
        items.append(
            ReconciliationItem(
                kind, row.label, row.ref or mine.ref, status, mine.fen, row.fen, note
            )
        )
    items += [
        ReconciliationItem(
            kind, mine.label, mine.ref, ReconciliationStatus.MISSING_PROVIDER, mine.fen, None
        )
        for n, mine in enumerate(ours)
        if n not in used
    ]
    return items


def _payments(ours: Sequence[OurPayment], bill: Sequence[TradeRecord]) -> list[ReconciliationItem]:
    def facts(transaction_id: str | None, out_trade_no: str) -> tuple[tuple[str, str | None], ...]:
        return (("transaction_id", transaction_id), ("out_trade_no", out_trade_no))

    mine = [
        _Entry(
            (p.transaction_id, p.out_trade_no), p.out_trade_no, p.transaction_id or "",
            p.amount_fen, facts(p.transaction_id, p.out_trade_no),
        )
        for p in ours
    ]  # fmt: skip
    theirs = [
        _Entry(
            (r.transaction_id, r.out_trade_no), r.out_trade_no, r.transaction_id, r.amount_fen,
            facts(r.transaction_id, r.out_trade_no),
        )
        for r in bill
    ]  # fmt: skip
    return _match(ReconciliationKind.PAYMENT, mine, theirs)


def _refunds(ours: Sequence[OurRefund], bill: Sequence[TradeRecord]) -> list[ReconciliationItem]:
    mine = [
        _Entry((r.out_refund_no,), r.out_refund_no, "", r.refund_fen,
               (("transaction_id", r.transaction_id),))
        for r in ours
    ]  # fmt: skip
    theirs = [
        _Entry(
            (r.out_refund_no,), r.out_refund_no or "", r.refund_id or "", r.refund_request_fen,
            (("transaction_id", r.transaction_id),),
            "" if r.refund_status == "SUCCESS" else
            f"退款状态 {r.refund_status}（发起时）/ refund status {r.refund_status} when initiated",
        )
        for r in bill
    ]  # fmt: skip
    return _match(ReconciliationKind.REFUND, mine, theirs)


def _splits(ours: Sequence[OurSplit], bill: Sequence[SplitRecord]) -> list[ReconciliationItem]:
    mine = []
    for s in ours:
        key = f"{s.out_order_no}/{s.receiver_account}"
        mine.append(_Entry((key,), key, "", s.fen))
    theirs = []
    for r in bill:
        key = f"{r.out_no}/{r.receiver_account}"
        theirs.append(_Entry((key,), key, r.detail_id, r.fen))
    return _match(ReconciliationKind.SPLIT, mine, theirs)


def _returns(ours: Sequence[OurReturn], bill: Sequence[SplitRecord]) -> list[ReconciliationItem]:
    mine = [
        _Entry((r.out_return_no,), r.out_return_no, "", r.fen,
               (("receiver_account", r.receiver_account),))
        for r in ours
    ]  # fmt: skip
    theirs = [
        _Entry((r.out_no,), r.out_no, r.provider_no, r.fen,
               (("receiver_account", r.receiver_account),))
        for r in bill
    ]  # fmt: skip
    return _match(ReconciliationKind.RETURN, mine, theirs)


def _unfreezes(ours: Ours, bill: Sequence[SplitRecord]) -> list[ReconciliationItem]:
    orders = ours.known_orders | {s.out_order_no for s in ours.splits}
    transactions = ours.known_transactions | {
        p.transaction_id for p in ours.payments if p.transaction_id
    }
    items = []
    for r in bill:
        known = r.transaction_id in transactions if r.initiator == "SYSTEM" else r.out_no in orders
        status = ReconciliationStatus.MATCHED if known else ReconciliationStatus.MISSING_OURS
        note = f"发起方 {r.initiator} / initiated by {r.initiator}"
        items.append(
            ReconciliationItem(
                ReconciliationKind.UNFREEZE, r.out_no, r.detail_id, status, None, r.fen, note
            )
        )
    return items


REPORT_COLUMNS = (
    "对账日期 bill_date", "类型 kind", "键 key", "微信单号 provider_ref", "状态 status",
    "我方金额(分) ours_fen", "账单金额(分) bill_fen", "差额(分) diff_fen", "说明 note",
)  # fmt: skip
SUMMARY_COLUMNS = (
    "对账日期 bill_date", "类型 kind", "匹配 matched", "长款 missing_ours",
    "短款 missing_provider", "金额不符 amount_differs", "我方合计(分) ours_fen",
    "账单合计(分) bill_fen", "账单手续费(分) bill_fee_fen",
)  # fmt: skip
ALL_KINDS = "全部 all"


def report_csv(report: ReconciliationReport) -> str:
    """The report as CSV text: a header, one row per item, then a summary header and one row per
    kind plus one for all. Amounts in fen; the same report always gives the same text."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    day = report.bill_date.isoformat()
    writer.writerow(REPORT_COLUMNS)
    for i in report.items:
        writer.writerow([
            day, i.kind, i.key, i.provider_ref, i.status, _cell(i.ours_fen), _cell(i.bill_fen),
            _cell(i.diff_fen), i.note,
        ])  # fmt: skip
    writer.writerow(SUMMARY_COLUMNS)
    for total in report.totals:
        of_kind = [i for i in report.items if i.kind is total.kind]
        counts = [sum(1 for i in of_kind if i.status is status) for status in ReconciliationStatus]
        writer.writerow([
            day, total.kind, *counts, total.ours_fen, total.bill_fen, _cell(total.bill_fee_fen),
        ])  # fmt: skip
    fees = [t.bill_fee_fen for t in report.totals if t.bill_fee_fen is not None]
    writer.writerow(
        [day, ALL_KINDS, *(report.counts[s] for s in ReconciliationStatus), "", "", sum(fees)]
    )
    return out.getvalue()


def _cell(fen: int | None) -> str:
    return "" if fen is None else str(fen)
