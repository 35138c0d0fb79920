"""The ledger's decisions: turn one operation into one balanced entry, given what is on the books.

Pure: the shell loads (and locks) the lots and balances an operation needs into a ``Book``, calls
``Planner.apply`` for each operation of a batch in order, and writes what comes back. No database,
no clock: ``now`` is an argument. Each check here is a rule a member or auditor can name.

Why this module is long: one planner, one method per operation, sharing the book and its
bookkeeping; split apart, the rules an auditor reads together (what a refund takes, from where, and
what a reversal may undo) would be scattered.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from jifen.ledger.chain import body_hash, entry_id_for, utc_text
from jifen.ledger.errors import (
    AccountNotFound,
    CapExceeded,
    EntryNotFound,
    InsufficientFunds,
    InsufficientPoints,
    InvalidEntry,
    LotNotDue,
    LotNotFound,
    LotState,
    NotReversible,
    RefundExceedsOrder,
)
from jifen.ledger.lots import Lot, LotStatus, draw, expired_at, prorata_clawback
from jifen.ledger.model import (
    CLAWBACK,
    CLEARING,
    EXPIRED,
    FEE_CASH,
    ISSUANCE,
    MAX_BATCH,
    OP_KINDS,
    RESERVE,
    RESERVE_CASH,
    REVENUE,
    Asset,
    Cap,
    Collect,
    Earn,
    Entry,
    Expire,
    Leg,
    Operation,
    PayOut,
    Post,
    Redeem,
    Refund,
    Release,
    ReturnSplit,
    Reverse,
    Settle,
    Shortfall,
    Void,
    accepted_account,
    available_account,
    merchant_cny_account,
    op_body,
    owner_of,
    pending_account,
)

MAX_GENERATED_LEGS = 2 * MAX_BATCH
"""A redemption spanning more lots than this is refused (split it in two)."""


@dataclass
class Book:
    """The slice of the ledger a batch needs, loaded under lock by the shell.

    ``balances`` holds member and merchant accounts (never system ones: those are bucketed and
    only ever incremented). ``entries`` holds entries a ``Reverse`` names, with ``reversed`` the ids
    already reversed. ``caps`` holds the points counted so far against each cap the batch names,
    read under the cap row's lock; ``touched_caps`` the ones the batch changed.
    """

    lots: dict[str, Lot] = field(default_factory=dict)
    balances: dict[str, int] = field(default_factory=dict)
    accounts: dict[str, Asset] = field(default_factory=dict)
    entries: dict[str, Entry] = field(default_factory=dict)
    reversed: set[str] = field(default_factory=set)
    new_lots: dict[str, Lot] = field(default_factory=dict)
    touched_lots: set[str] = field(default_factory=set)
    deltas: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    caps: dict[str, int] = field(default_factory=dict)
    touched_caps: set[str] = field(default_factory=set)


def member_debt(book: Book, member_id: str) -> int:
    """Points owed by a member: lot points minus the account balance (brief §5, refund policy)."""
    in_lots = sum(
        lot.available for lot in book.lots.values() if lot.member_id == member_id and lot.available
    )
    return max(0, in_lots - book.balances.get(available_account(member_id), 0))


def _reserve_moves(reserve_fen: int, counterpart: str) -> list[Leg]:
    """Money leaving the reserve to ``counterpart`` (a merchant, or revenue at breakage).

    Each lot's points are backed by whole fen, so these moves are exact: the reserve always
    equals the value of the funded points still outstanding (``jifen verify`` checks it).
    """
    if not reserve_fen:
        return []
    return [Leg(RESERVE, Asset.CNY, -reserve_fen), Leg(counterpart, Asset.CNY, reserve_fen)]


class Planner:
    """Applies operations to a ``Book`` one by one; a batch composes because the book updates."""

    def __init__(self, book: Book) -> None:
        self.book = book

    def apply(self, op: Operation, now: datetime) -> Entry:
        handler = getattr(self, f"_{OP_KINDS[type(op)]}")
        legs, detail = handler(op, now)
        if "lot_id" in detail:  # a refund may change its lot's figures without a leg on it
            self.book.touched_lots.add(detail["lot_id"])
        entry = Entry(
            entry_id=entry_id_for(op.key),
            key=op.key,
            body_hash=body_hash(op_body(op)),
            kind=OP_KINDS[type(op)],
            at=now,
            legs=tuple(legs),
            detail={k: utc_text(v) if isinstance(v, datetime) else v for k, v in detail.items()},
        )
        self._record(entry)
        return entry

    # -- bookkeeping ---------------------------------------------------------------------------

    def _record(self, entry: Entry) -> None:
        assert len(entry.legs) <= MAX_GENERATED_LEGS
        totals: dict[Asset, int] = defaultdict(int)
        for leg in entry.legs:
            totals[leg.asset] += leg.amount
            self.book.deltas[leg.account] += leg.amount
            if leg.account in self.book.balances:
                self.book.balances[leg.account] += leg.amount
            if leg.lot_id is not None:
                self.book.touched_lots.add(leg.lot_id)
        assert not any(totals.values()), f"planner produced an unbalanced entry {entry.kind}"

    def _lot(self, lot_id: str) -> Lot:
        lot = self.book.lots.get(lot_id)
        if lot is None:
            raise LotNotFound("no lot with this id", lot_id=lot_id)
        return lot

    def _require_account(self, account: str) -> Asset:
        asset = self.book.accounts.get(account)
        if asset is None:
            raise AccountNotFound(f"account {account} does not exist", account=account)
        return asset

    def _check_cap(self, cap: Cap | None, points: int) -> None:
        """Refuse before anything changes if ``points`` would take ``cap`` past its limit."""
        if cap is None:
            return
        used = self.book.caps.get(cap.key, 0)
        if used + points > cap.limit_points:
            raise CapExceeded(
                f"{cap.key}: {used} of {cap.limit_points} points used, {points} more asked",
                cap=cap.key,
                used_points=used,
                limit_points=cap.limit_points,
            )

    def _count(self, cap_key: str | None, points: int) -> None:
        if cap_key is not None:
            self.book.caps[cap_key] = self.book.caps.get(cap_key, 0) + points
            self.book.touched_caps.add(cap_key)

    # -- operations ----------------------------------------------------------------------------

    def _earn(self, op: Earn, now: datetime) -> tuple[list[Leg], dict[str, Any]]:
        self._require_account(accepted_account(op.merchant_id))
        lot_id = entry_id_for(op.key)
        if lot_id in self.book.lots:  # the same key within one batch is folded by the shell
            raise InvalidEntry("lot already exists", lot_id=lot_id)
        self._check_cap(op.cap, op.points)
        lot = Lot(
            lot_id=lot_id,
            member_id=op.member_id,
            merchant_id=op.merchant_id,
            order_ref=op.order_ref,
            amount_fen=op.amount_fen,
            points=op.points,
            rule_version=op.rule_version,
            paid_at=op.paid_at,
            release_at=op.release_at,
            expires_at=op.expires_at,
            pending=op.points,
            value_fen_per_point=op.value_fen_per_point,
        )
        self.book.lots[lot_id] = lot
        self.book.new_lots[lot_id] = lot
        for account in (pending_account(op.member_id), available_account(op.member_id)):
            self.book.accounts.setdefault(account, Asset.POINTS)
            self.book.balances.setdefault(account, 0)
        legs = [
            Leg(ISSUANCE, Asset.POINTS, -op.points),
            Leg(pending_account(op.member_id), Asset.POINTS, op.points, lot_id),
        ]
        reserve_fen = lot.value_fen(op.points)
        if op.charge_fen:  # partner billing (brief §4): issue price in, value into the reserve
            self._require_account(merchant_cny_account(op.merchant_id))
            legs += [
                Leg(merchant_cny_account(op.merchant_id), Asset.CNY, -op.charge_fen),
                Leg(RESERVE, Asset.CNY, reserve_fen),
            ]
            if op.charge_fen > reserve_fen:
                legs.append(Leg(REVENUE, Asset.CNY, op.charge_fen - reserve_fen))
        detail = {
            "lot_id": lot_id,
            "member_id": op.member_id,
            "merchant_id": op.merchant_id,
            "order_ref": op.order_ref,
            "amount_fen": op.amount_fen,
            "points": op.points,
            "rule_version": op.rule_version,
            "paid_at": op.paid_at,
            "release_at": op.release_at,
            "expires_at": op.expires_at,
            "charge_fen": op.charge_fen,
            "value_fen_per_point": op.value_fen_per_point,
            "reserve_fen": reserve_fen,
        }
        if op.cap is not None:
            detail["cap"], detail["cap_limit_points"] = op.cap.key, op.cap.limit_points
            self._count(op.cap.key, op.points)
        return legs, detail

    def _release(self, op: Release, now: datetime) -> tuple[list[Leg], dict[str, Any]]:
        lot = self._lot(op.lot_id)
        if lot.status is not LotStatus.PENDING:
            raise LotState(f"lot is {lot.status.value}, not pending", lot_id=lot.lot_id)
        if now < lot.release_at:
            raise LotNotDue("the return window has not ended", release_at=lot.release_at)
        if expired_at(lot, now):
            raise LotState(
                "the lot expired before its release; it can only expire", lot_id=lot.lot_id
            )
        points = lot.pending
        repay = min(member_debt(self.book, lot.member_id), points)
        pending, available = pending_account(lot.member_id), available_account(lot.member_id)
        legs = [
            Leg(pending, Asset.POINTS, -points, lot.lot_id),
            Leg(available, Asset.POINTS, points, lot.lot_id),
        ]
        if repay:
            legs += [
                Leg(available, Asset.POINTS, -repay, lot.lot_id),
                Leg(available, Asset.POINTS, repay, None),
            ]
            # points that repay a debt leave circulation: their backing is the operator's
            legs += _reserve_moves(lot.value_fen(repay), REVENUE)
        lot.pending, lot.available = 0, points - repay
        lot.redeemed += repay  # repaying debt spends the lot like a redemption
        lot.status = LotStatus.RELEASED
        return legs, {"lot_id": lot.lot_id, "points": points, "debt_repaid": repay}

    def _void(self, op: Void, now: datetime) -> tuple[list[Leg], dict[str, Any]]:
        lot = self._lot(op.lot_id)
        if lot.status is not LotStatus.PENDING:
            raise LotState(f"lot is {lot.status.value}; only pending points can be voided")
        if expired_at(lot, now):
            raise LotState("the lot has expired; it can only expire", lot_id=lot.lot_id)
        points = lot.pending
        lot.pending, lot.status = 0, LotStatus.VOIDED
        legs = [
            Leg(pending_account(lot.member_id), Asset.POINTS, -points, lot.lot_id),
            Leg(CLAWBACK, Asset.POINTS, points),
        ]
        # the sale was undone: the issuing merchant gets the points' value back (not the margin)
        legs += _reserve_moves(lot.value_fen(points), merchant_cny_account(lot.merchant_id))
        return legs, {"lot_id": lot.lot_id, "points": points, "credited_fen": lot.value_fen(points)}

    def _expire(self, op: Expire, now: datetime) -> tuple[list[Leg], dict[str, Any]]:
        lot = self._lot(op.lot_id)
        if lot.expires_at is None or now < lot.expires_at:
            raise LotNotDue("the lot has not reached its expiry", expires_at=lot.expires_at)
        if lot.status not in (LotStatus.PENDING, LotStatus.RELEASED) or not (
            lot.pending or lot.available
        ):
            raise LotState("nothing is left in this lot to expire", lot_id=lot.lot_id)
        legs = []
        if lot.pending:
            legs.append(Leg(pending_account(lot.member_id), Asset.POINTS, -lot.pending, lot.lot_id))
        if lot.available:
            legs.append(
                Leg(available_account(lot.member_id), Asset.POINTS, -lot.available, lot.lot_id)
            )
        points = lot.pending + lot.available
        legs.append(Leg(EXPIRED, Asset.POINTS, points))
        legs += _reserve_moves(lot.value_fen(points), REVENUE)  # breakage, only when it happens
        lot.expired += points
        lot.pending = lot.available = 0
        lot.status = LotStatus.EXPIRED
        return legs, {"lot_id": lot.lot_id, "points": points}

    def _redeem(self, op: Redeem, now: datetime) -> tuple[list[Leg], dict[str, Any]]:
        account = available_account(op.member_id)
        self._require_account(accepted_account(op.merchant_id))
        self._check_cap(op.cap, op.points)
        if account not in self.book.accounts:  # never had available points: nothing to spend
            raise InsufficientPoints(
                f"{op.points} points asked, 0 available", points=op.points, available=0
            )
        lots = [lot for lot in self.book.lots.values() if lot.member_id == op.member_id]
        plan = draw(lots, op.points, now)
        spendable = sum(take for _, take in plan)
        balance = self.book.balances.get(account, 0)
        if spendable < op.points or balance < op.points:
            raise InsufficientPoints(
                f"{op.points} points asked, {min(spendable, max(balance, 0))} available",
                points=op.points,
                available=min(spendable, max(balance, 0)),
            )
        if len(plan) + 1 > MAX_GENERATED_LEGS:
            raise InvalidEntry("redemption spans too many lots; split it", lots=len(plan))
        legs = [Leg(account, Asset.POINTS, -take, lot.lot_id) for lot, take in plan]
        legs.append(Leg(accepted_account(op.merchant_id), Asset.POINTS, op.points))
        reimbursed_fen = sum(lot.value_fen(take) for lot, take in plan)
        if reimbursed_fen:
            self._require_account(merchant_cny_account(op.merchant_id))
        legs += _reserve_moves(reimbursed_fen, merchant_cny_account(op.merchant_id))
        for lot, take in plan:
            lot.available -= take
            lot.redeemed += take
        detail: dict[str, Any] = {
            "reimbursed_fen": reimbursed_fen,
            "member_id": op.member_id,
            "merchant_id": op.merchant_id,
            "order_ref": op.order_ref,
            "points": op.points,
            "lots": [[lot.lot_id, take] for lot, take in plan],
        }
        for name in ("order_amount_fen", "rule_version"):
            if getattr(op, name) is not None:
                detail[name] = getattr(op, name)
        if op.cap is not None:
            detail["cap"], detail["cap_limit_points"] = op.cap.key, op.cap.limit_points
            self._count(op.cap.key, op.points)
        return legs, detail

    def _refund(self, op: Refund, now: datetime) -> tuple[list[Leg], dict[str, Any]]:
        lot = self._lot(op.lot_id)
        if lot.status is LotStatus.REVERSED:
            raise LotState("the lot's earn entry was reversed", lot_id=lot.lot_id)
        if lot.refunded_fen + op.refund_fen > lot.amount_fen:
            raise RefundExceedsOrder(
                f"refunds would total {lot.refunded_fen + op.refund_fen} fen "
                f"on an order of {lot.amount_fen} fen",
                refundable_fen=lot.amount_fen - lot.refunded_fen,
            )
        claw = prorata_clawback(lot.points, lot.amount_fen, lot.refunded_fen, op.refund_fen)
        pending, available = pending_account(lot.member_id), available_account(lot.member_id)
        legs: list[Leg] = []
        # 1. the order's own lot: pending points are voided, available ones clawed back (an
        #    expired lot's points are gone already, whether or not the expiry job burnt them)
        if expired_at(lot, now):
            from_lot = 0
        elif lot.status is LotStatus.PENDING:
            from_lot = min(claw, lot.pending)
            if from_lot:
                legs.append(Leg(pending, Asset.POINTS, -from_lot, lot.lot_id))
            lot.pending -= from_lot
            if lot.pending == 0:
                lot.status = LotStatus.VOIDED
        else:
            from_lot = min(claw, lot.available)
            if from_lot:
                legs.append(Leg(available, Asset.POINTS, -from_lot, lot.lot_id))
            lot.available -= from_lot
        # 2. points of this order already spent: recover from the member's other lots ...
        recover = min(claw - from_lot, lot.redeemed - lot.recovered)
        assert recover >= 0, "a lot recovered more than was spent from it"
        others = [
            o for o in self.book.lots.values() if o.member_id == lot.member_id and o is not lot
        ]
        plan = draw(others, recover, now)
        for other, take in plan:
            legs.append(Leg(available, Asset.POINTS, -take, other.lot_id))
            other.available -= take
            other.redeemed += take
        from_others = sum(take for _, take in plan)
        # 3. ... and what is still missing follows the rule's shortfall policy
        shortfall = recover - from_others
        if shortfall and op.shortfall is Shortfall.RECORD_DEBT:
            legs.append(Leg(available, Asset.POINTS, -shortfall, None))
            debt = shortfall
        else:
            debt = 0
        clawed = from_lot + from_others + debt
        if clawed:
            legs.append(Leg(CLAWBACK, Asset.POINTS, clawed))
        # the backed points taken out of circulation: their value goes back to the issuer
        credited_fen = lot.value_fen(from_lot) + sum(o.value_fen(take) for o, take in plan)
        legs += _reserve_moves(credited_fen, merchant_cny_account(lot.merchant_id))
        lot.refunded_fen += op.refund_fen
        lot.refund_clawed += claw
        lot.recovered += recover
        return legs, {
            "lot_id": lot.lot_id,
            "refund_fen": op.refund_fen,
            "clawback_points": claw,
            "from_lot": from_lot,
            "recovered_points": recover,
            "from_other_lots": from_others,
            "debt_points": debt,
            "shortfall_points": shortfall,
            "shortfall_policy": op.shortfall.value,
            # the share's points that had already left the lot (voided, expired): nothing to take
            "already_gone_points": claw - from_lot - recover,
            "credited_fen": credited_fen,
        }

    def _reverse(self, op: Reverse, now: datetime) -> tuple[list[Leg], dict[str, Any]]:
        target = self.book.entries.get(op.entry_id)
        if target is None:
            raise EntryNotFound("no entry with this id", entry_id=op.entry_id)
        if op.entry_id in self.book.reversed:
            raise NotReversible("this entry was already reversed", entry_id=op.entry_id)
        if target.kind == "earn":
            lot = self._lot(target.entry_id)
            if lot.status is not LotStatus.PENDING or lot.pending != lot.points:
                raise NotReversible(
                    "an earn can be reversed only while all its points are pending; "
                    "refund the order instead"
                )
            lot.pending, lot.status = 0, LotStatus.REVERSED
        elif target.kind == "redeem":
            for leg in target.legs:
                if leg.lot_id is None:
                    continue
                lot = self._lot(leg.lot_id)
                if lot.status is not LotStatus.RELEASED:
                    raise NotReversible(f"lot {lot.lot_id} the points came from is {lot.status}")
                if lot.redeemed + leg.amount < lot.recovered:
                    raise NotReversible(
                        "a refund of the order already settled these spent points; "
                        "giving them back would count them twice"
                    )
                lot.available -= leg.amount
                lot.redeemed += leg.amount
            if target.detail.get("cap"):  # the order may be paid with these points again
                self._count(str(target.detail["cap"]), -int(target.detail["points"]))
        elif target.kind != "post":
            raise NotReversible(
                f"{target.kind} entries are corrected by their own flow, not reversed",
                kind=target.kind,
            )
        legs = [Leg(leg.account, leg.asset, -leg.amount, leg.lot_id) for leg in target.legs]
        # a merchant's money account is a running receivable/payable: undoing a redemption after
        # its reimbursement was settled leaves the merchant owing it back, to be netted next time
        self._check_not_negative(legs, money=target.kind == "post")
        self.book.reversed.add(op.entry_id)
        return legs, {"reverses": op.entry_id, "reason": op.reason}

    def _check_not_negative(self, legs: list[Leg], *, money: bool = True) -> None:
        """Member and merchant accounts never go negative through a correction or manual entry."""
        moved: dict[tuple[str, Asset], int] = defaultdict(int)
        for leg in legs:
            if leg.asset is Asset.CNY and not money:
                continue
            moved[leg.account, leg.asset] += leg.amount
        for (account, asset), amount in moved.items():
            if owner_of(account) is None or amount >= 0:
                continue
            if self.book.balances.get(account, 0) + amount < 0:
                refusal = InsufficientPoints if asset is Asset.POINTS else InsufficientFunds
                raise refusal(f"{account} would go negative", account=account)

    def _post(self, op: Post, now: datetime) -> tuple[list[Leg], dict[str, Any]]:
        for leg in op.legs:
            asset = self._require_account(leg.account)
            if leg.account.startswith("member:"):
                raise InvalidEntry("member points move only through earn, redeem and refund")
            if asset is not leg.asset:
                raise InvalidEntry(f"{leg.account} holds {asset.value}, not {leg.asset.value}")
        legs = list(op.legs)
        self._check_not_negative(legs)
        return legs, {"memo": op.memo}

    def _collect(self, op: Collect, now: datetime) -> tuple[list[Leg], dict[str, Any]]:
        """The charge the merchant owed since the earn is paid: the money is at the receivers."""
        return self._cash(op, +1)

    def _split_return(self, op: ReturnSplit, now: datetime) -> tuple[list[Leg], dict[str, Any]]:
        """What a refund credited the merchant goes back to it from the receivers' accounts."""
        return self._cash(op, -1)

    def _cash(self, op: Collect, sign: int) -> tuple[list[Leg], dict[str, Any]]:
        account = merchant_cny_account(op.merchant_id)
        self._require_account(account)
        legs = [Leg(account, Asset.CNY, sign * (op.reserve_fen + op.fee_fen))]
        legs += [
            Leg(cash, Asset.CNY, -sign * fen)
            for cash, fen in ((RESERVE_CASH, op.reserve_fen), (FEE_CASH, op.fee_fen))
            if fen
        ]
        return legs, {
            "merchant_id": op.merchant_id,
            "reserve_fen": op.reserve_fen,
            "fee_fen": op.fee_fen,
            "reference": op.reference,
        }

    def _payout(self, op: PayOut, now: datetime) -> tuple[list[Leg], dict[str, Any]]:
        """A settled net paid to the merchant out of the reserve's cash."""
        self._require_account(merchant_cny_account(op.merchant_id))  # a merchant of the books
        legs = [Leg(CLEARING, Asset.CNY, -op.fen), Leg(RESERVE_CASH, Asset.CNY, op.fen)]
        return legs, {"merchant_id": op.merchant_id, "fen": op.fen, "reference": op.reference}

    def _settle(self, op: Settle, now: datetime) -> tuple[list[Leg], dict[str, Any]]:
        account = merchant_cny_account(op.merchant_id)
        self._require_account(account)
        legs = [Leg(account, Asset.CNY, -op.net_fen), Leg(CLEARING, Asset.CNY, op.net_fen)]
        return legs, {
            "merchant_id": op.merchant_id,
            "business_date": op.business_date,
            "net_fen": op.net_fen,
        }
