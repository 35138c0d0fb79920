"""The ledger's plain data: assets, accounts, legs, entries, lots and the operations callers submit.

Everything here is immutable. Times are timezone-aware UTC datetimes; points and fen are ints.
An operation is what a caller asks for (``Earn``, ``Redeem``...); an entry is what the ledger
recorded for it (one entry per operation, found again by the operation's idempotency key).

Why this module is long: it is the ledger's whole vocabulary — accounts, legs, every operation
with its own validation, entries and receipts — side by side, so that what a caller may ask and
what each operation refuses can be read in one place.
"""

from __future__ import annotations

import dataclasses
import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from jifen.ledger.errors import InvalidAmount, InvalidEntry, MalformedKey, UnbalancedEntry

MAX_LEGS = 64
"""Most legs one entry may carry; a redemption spanning more lots than this is refused."""
MAX_BATCH = 1000
"""Most operations one batch (one transaction, one block) may carry."""
MAX_POINTS = 10**12
MAX_FEN = 10**14
KEY_PATTERN = re.compile(r"[A-Za-z0-9._:/@-]{1,128}")
ID_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,64}")
CAP_KEY_PATTERN = re.compile(r"[a-z-]{1,32}:[A-Za-z0-9._:@-]{1,127}")
NEW_FIELD = {"omit_if_none": True}
"""Marks an optional field added after entries were first written: left out of the body an
idempotency key is bound to while it is None, so a retry of an older operation still matches."""


class Asset(enum.StrEnum):
    POINTS = "POINTS"
    CNY = "CNY"  # integer fen


class AccountKind(enum.StrEnum):
    """What an account is for. System accounts are bucketed by chain lane (see docs/ledger.md)."""

    MEMBER_PENDING = "member_pending"  # 待发放: held until the return window ends
    MEMBER_AVAILABLE = "member_available"
    MERCHANT_ACCEPTED = "merchant_accepted"  # points a merchant took at checkout
    ISSUANCE = "issuance"  # source of all points; its balance is minus everything issued
    EXPIRED = "expired"  # sink: points burnt at expiry
    CLAWBACK = "clawback"  # sink: points voided or clawed back on refund
    SYSTEM_CNY = "system_cny"  # operator's money accounts (reserve, revenue, clearing)
    MERCHANT_CNY = "merchant_cny"


ISSUANCE = "system:issuance"
EXPIRED = "system:expired"
CLAWBACK = "system:clawback"
RESERVE = "system:reserve"
REVENUE = "system:revenue"
CLEARING = "system:clearing"
RESERVE_CASH = "system:reserve_cash"
FEE_CASH = "system:fee_cash"
REFERRAL_PAYABLE = "system:referral_payable"
"""Referral rewards owed to promoters (a liability): credited when a reward accrues at the end of
its order's return window, debited by its payout (the net paid and the tax withheld)."""
TAX_WITHHELD = "system:tax_withheld"
"""Individual income tax withheld from promoters' payouts and owed to the tax authority."""

SYSTEM_ACCOUNTS: Mapping[str, tuple[AccountKind, Asset]] = {
    ISSUANCE: (AccountKind.ISSUANCE, Asset.POINTS),
    EXPIRED: (AccountKind.EXPIRED, Asset.POINTS),
    CLAWBACK: (AccountKind.CLAWBACK, Asset.POINTS),
    RESERVE: (AccountKind.SYSTEM_CNY, Asset.CNY),
    REVENUE: (AccountKind.SYSTEM_CNY, Asset.CNY),
    CLEARING: (AccountKind.SYSTEM_CNY, Asset.CNY),
    # money actually held at the provider by the reserve and the operator's fee receivers (an
    # asset: below zero while they hold money, as every asset in these books)
    RESERVE_CASH: (AccountKind.SYSTEM_CNY, Asset.CNY),
    FEE_CASH: (AccountKind.SYSTEM_CNY, Asset.CNY),
    REFERRAL_PAYABLE: (AccountKind.SYSTEM_CNY, Asset.CNY),
    TAX_WITHHELD: (AccountKind.SYSTEM_CNY, Asset.CNY),
}


def pending_account(member_id: str) -> str:
    return f"member:{member_id}:pending"


def available_account(member_id: str) -> str:
    return f"member:{member_id}:available"


def accepted_account(merchant_id: str) -> str:
    return f"merchant:{merchant_id}:accepted"


def merchant_cny_account(merchant_id: str) -> str:
    return f"merchant:{merchant_id}:cny"


def member_accounts(member_id: str) -> dict[str, tuple[AccountKind, Asset]]:
    return {
        pending_account(member_id): (AccountKind.MEMBER_PENDING, Asset.POINTS),
        available_account(member_id): (AccountKind.MEMBER_AVAILABLE, Asset.POINTS),
    }


def merchant_accounts(merchant_id: str) -> dict[str, tuple[AccountKind, Asset]]:
    return {
        accepted_account(merchant_id): (AccountKind.MERCHANT_ACCEPTED, Asset.POINTS),
        merchant_cny_account(merchant_id): (AccountKind.MERCHANT_CNY, Asset.CNY),
    }


def member_account_kind(account_id: str) -> tuple[AccountKind, Asset] | None:
    """Member accounts are not registered rows: their kind follows from their name."""
    if account_id.startswith("member:"):
        if account_id.endswith(":pending"):
            return AccountKind.MEMBER_PENDING, Asset.POINTS
        if account_id.endswith(":available"):
            return AccountKind.MEMBER_AVAILABLE, Asset.POINTS
    return None


def owner_of(account_id: str) -> str | None:
    """``member:m1:pending`` → ``member:m1``; system accounts have no owner."""
    kind, _, rest = account_id.partition(":")
    if kind in ("member", "merchant"):
        return f"{kind}:{rest.rpartition(':')[0]}"
    return None


def owner_id(account_id: str) -> str:
    """``merchant:cinema:cny`` → ``cinema``: the member or merchant id inside an account id (the
    one place that knows how account ids are spelled, with the builders above)."""
    owner = owner_of(account_id)
    if owner is None:
        raise InvalidEntry(f"{account_id} belongs to no member or merchant", account=account_id)
    return owner.partition(":")[2]


class Shortfall(enum.StrEnum):
    """What a refund does when the member already spent the points the order earned (brief §5)."""

    DEDUCT_FROM_REFUND = "deduct_from_refund"  # the caller deducts their value from the cash refund
    RECORD_DEBT = "record_debt"  # a negative balance, recovered from future releases


@dataclass(frozen=True, slots=True)
class Leg:
    account: str
    asset: Asset
    amount: int  # points or fen; positive = credit to the account's balance
    lot_id: str | None = None


def _check_key(key: str) -> None:
    if not isinstance(key, str) or not KEY_PATTERN.fullmatch(key):
        raise MalformedKey(
            "idempotency key must be 1-128 characters of A-Z a-z 0-9 . _ : / @ -",
            key=str(key)[:140],
        )


def check_id(name: str, value: str) -> None:
    if not isinstance(value, str) or not ID_PATTERN.fullmatch(value):
        raise InvalidEntry(f"{name} must be 1-64 characters of A-Z a-z 0-9 . _ -", field=name)


def _check_positive(name: str, value: int, limit: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= limit:
        raise InvalidAmount(f"{name} must be a whole number from 1 to {limit}", field=name)


def _check_time(name: str, value: datetime | None, *, optional: bool = False) -> None:
    if value is None and optional:
        return
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise InvalidEntry(f"{name} must be a timezone-aware datetime", field=name)


@dataclass(frozen=True, slots=True)
class Cap:
    """A limit the ledger holds under lock (brief §6: caps must hold under any interleaving).

    Every entry that names ``key`` counts its points against it, and the ledger refuses the one
    that would take the total past ``limit_points``: the total is read and written while the
    cap's row is locked, so parallel requests cannot both pass a check made outside the lock.
    Keys: ``earn-day:{member_id}:{YYYY-MM-DD}`` (points a member earned on a business day),
    ``redeem-order:{merchant_id}:{order_ref}`` (points paid on one order).
    """

    key: str
    limit_points: int

    def validate(self) -> None:
        if not isinstance(self.key, str) or not CAP_KEY_PATTERN.fullmatch(self.key):
            raise InvalidEntry("a cap key is kind:identity, at most 160 characters", field="cap")
        limit = self.limit_points
        if isinstance(limit, bool) or not isinstance(limit, int) or not 0 <= limit <= MAX_POINTS:
            raise InvalidAmount(f"a cap is a whole number from 0 to {MAX_POINTS}", field="cap")


def _check_cap(cap: Cap | None) -> None:
    if cap is None:
        return
    if not isinstance(cap, Cap):
        raise InvalidEntry("cap must be a Cap", field="cap")
    cap.validate()


@dataclass(frozen=True, slots=True)
class Earn:
    """Points earned by a paid order: a new lot, pending until ``release_at``."""

    key: str
    member_id: str
    merchant_id: str
    order_ref: str
    amount_fen: int
    points: int
    rule_version: int
    paid_at: datetime
    release_at: datetime
    expires_at: datetime | None = None
    # what the issuing merchant pays for these points (issue price) and the part of it that backs
    # each point in the reserve (its redemption value); both 0 for points nobody paid for
    charge_fen: int = 0
    value_fen_per_point: int = 0
    cap: Cap | None = field(default=None, metadata=NEW_FIELD)  # e.g. the member's daily cap

    def validate(self) -> None:
        _check_key(self.key)
        _check_cap(self.cap)
        check_id("member_id", self.member_id)
        check_id("merchant_id", self.merchant_id)
        check_id("order_ref", self.order_ref)
        _check_positive("amount_fen", self.amount_fen, MAX_FEN)
        _check_positive("points", self.points, MAX_POINTS)
        _check_positive("rule_version", self.rule_version, 10**9)
        _check_time("paid_at", self.paid_at)
        _check_time("release_at", self.release_at)
        _check_time("expires_at", self.expires_at, optional=True)
        if self.release_at < self.paid_at:
            raise InvalidEntry("release_at is before paid_at", field="release_at")
        if self.expires_at is not None and self.expires_at <= self.release_at:
            raise InvalidEntry("expires_at must be after release_at", field="expires_at")
        if self.charge_fen or self.value_fen_per_point:
            _check_positive("charge_fen", self.charge_fen, MAX_FEN)
            _check_positive("value_fen_per_point", self.value_fen_per_point, 10_000)
            if self.charge_fen < self.points * self.value_fen_per_point:
                raise InvalidAmount(
                    "the issue charge must cover the points' value in the reserve",
                    field="charge_fen",
                )


@dataclass(frozen=True, slots=True)
class _LotOperation:
    """An operation on one whole lot, named by its id."""

    key: str
    lot_id: str

    def validate(self) -> None:
        _check_key(self.key)
        check_id("lot_id", self.lot_id)


@dataclass(frozen=True, slots=True)
class Release(_LotOperation):
    """Pending points of a lot become available (the return window has ended)."""


@dataclass(frozen=True, slots=True)
class Void(_LotOperation):
    """Pending points of a lot are cancelled (order cancelled inside the return window)."""


@dataclass(frozen=True, slots=True)
class Expire(_LotOperation):
    """What is left of a lot at its expiry is burnt."""


@dataclass(frozen=True, slots=True)
class Redeem:
    """A member spends available points at a merchant, earliest-expiring lots first."""

    key: str
    member_id: str
    merchant_id: str
    points: int
    order_ref: str
    # what the redemption is bound to besides its points: the order's amount and the rule version
    # whose limits it was checked against (both on the member's history), and the order's cap
    order_amount_fen: int | None = field(default=None, metadata=NEW_FIELD)
    rule_version: int | None = field(default=None, metadata=NEW_FIELD)
    cap: Cap | None = field(default=None, metadata=NEW_FIELD)

    def validate(self) -> None:
        _check_key(self.key)
        _check_cap(self.cap)
        check_id("member_id", self.member_id)
        check_id("merchant_id", self.merchant_id)
        check_id("order_ref", self.order_ref)
        _check_positive("points", self.points, MAX_POINTS)
        if self.order_amount_fen is not None:
            _check_positive("order_amount_fen", self.order_amount_fen, MAX_FEN)
        if self.rule_version is not None:
            _check_positive("rule_version", self.rule_version, 10**9)


@dataclass(frozen=True, slots=True)
class Refund:
    """Part or all of the order behind a lot is refunded: claw back its points pro rata."""

    key: str
    lot_id: str
    refund_fen: int
    shortfall: Shortfall = Shortfall.DEDUCT_FROM_REFUND

    def validate(self) -> None:
        _check_key(self.key)
        check_id("lot_id", self.lot_id)
        _check_positive("refund_fen", self.refund_fen, MAX_FEN)
        if not isinstance(self.shortfall, Shortfall):
            raise InvalidEntry("shortfall must be a Shortfall policy", field="shortfall")


@dataclass(frozen=True, slots=True)
class Reverse:
    """A correction: a new entry with every leg of ``entry_id`` negated. History is never edited."""

    key: str
    entry_id: str
    reason: str

    def validate(self) -> None:
        _check_key(self.key)
        check_id("entry_id", self.entry_id)
        if not isinstance(self.reason, str) or not 1 <= len(self.reason.strip()) <= 500:
            raise InvalidEntry("a reversal needs a reason of 1-500 characters", field="reason")


@dataclass(frozen=True, slots=True)
class Post:
    """A manual entry between system and merchant accounts (money movements, corrections).

    Member point accounts are moved only by the flows above, so every member point has a lot.
    """

    key: str
    legs: tuple[Leg, ...]
    memo: str

    def validate(self) -> None:
        _check_key(self.key)
        if not isinstance(self.memo, str) or len(self.memo) > 500:
            raise InvalidEntry("memo must be at most 500 characters", field="memo")
        if not 2 <= len(self.legs) <= MAX_LEGS:
            raise InvalidEntry(f"an entry needs 2 to {MAX_LEGS} legs", field="legs")
        totals: dict[Asset, int] = {}
        for leg in self.legs:
            if not isinstance(leg, Leg) or not isinstance(leg.asset, Asset):
                raise InvalidEntry("legs must be Leg values with an Asset", field="legs")
            if isinstance(leg.amount, bool) or not isinstance(leg.amount, int):
                raise InvalidAmount("leg amounts are whole numbers", field="legs")
            if leg.amount == 0 or abs(leg.amount) > MAX_FEN:
                raise InvalidAmount(f"leg amounts are non-zero and at most {MAX_FEN}", field="legs")
            if leg.lot_id is not None:
                raise InvalidEntry("manual entries do not touch lots", field="legs")
            totals[leg.asset] = totals.get(leg.asset, 0) + leg.amount
        unbalanced = {asset: total for asset, total in totals.items() if total}
        if unbalanced:
            raise UnbalancedEntry(
                "legs must sum to zero per asset; off by "
                + ", ".join(f"{a.value} {t}" for a, t in sorted(unbalanced.items())),
                totals={a.value: t for a, t in unbalanced.items()},
            )


@dataclass(frozen=True, slots=True)
class Settle:
    """A merchant's net for one business day moves to clearing, to be paid through the provider.

    ``net_fen`` > 0: the operator owes the merchant (reimbursements exceeded charges); < 0: the
    merchant owes. A merchant's money account is a running receivable/payable, so this is never
    refused for its sign; the daily statement that produced it is kept beside it.
    """

    key: str
    merchant_id: str
    business_date: str
    net_fen: int

    def validate(self) -> None:
        _check_key(self.key)
        check_id("merchant_id", self.merchant_id)
        if not isinstance(self.business_date, str) or not re.fullmatch(
            r"\d{4}-\d{2}-\d{2}", self.business_date
        ):
            raise InvalidEntry("business_date must be YYYY-MM-DD", field="business_date")
        _check_positive("net_fen", abs(self.net_fen), MAX_FEN)


def _check_reference(reference: str) -> None:
    if not isinstance(reference, str) or not KEY_PATTERN.fullmatch(reference):
        raise InvalidEntry(
            "a provider reference is 1-128 of A-Z a-z 0-9 . _ : / @ -", field="reference"
        )


def _check_fen(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_FEN:
        raise InvalidAmount(f"{name} must be a whole number from 0 to {MAX_FEN}", field=name)


@dataclass(frozen=True, slots=True)
class Collect:
    """A merchant's issue charge collected by the provider's split (分账): ``reserve_fen`` is now
    at the points reserve's receiver account, ``fee_fen`` at the operator's fee account. The
    money never passed through the operator's hands; this records that it arrived."""

    key: str
    merchant_id: str
    reserve_fen: int
    fee_fen: int
    reference: str  # the provider's split: transaction id, out_order_no, detail id

    def validate(self) -> None:
        _check_key(self.key)
        check_id("merchant_id", self.merchant_id)
        _check_fen("reserve_fen", self.reserve_fen)
        _check_fen("fee_fen", self.fee_fen)
        _check_positive("reserve_fen + fee_fen", self.reserve_fen + self.fee_fen, MAX_FEN)
        _check_reference(self.reference)


@dataclass(frozen=True, slots=True)
class ReturnSplit(Collect):
    """A split returned (分账回退) from the reserve (and fee) receiver to the merchant, before the
    refund of an order whose points were clawed back: settles the value the refund credited."""


@dataclass(frozen=True, slots=True)
class PayOut:
    """A merchant's settled net paid from the reserve's account through the provider (or the
    reserve's depository bank): money leaves the reserve's cash and what clearing owed."""

    key: str
    merchant_id: str
    fen: int
    reference: str

    def validate(self) -> None:
        _check_key(self.key)
        check_id("merchant_id", self.merchant_id)
        _check_positive("fen", self.fen, MAX_FEN)
        _check_reference(self.reference)


Operation = (
    Earn | Release | Void | Expire | Redeem | Refund | Reverse | Post | Settle | Collect | PayOut
)
OP_KINDS: Mapping[type, str] = {
    Earn: "earn",
    Release: "release",
    Void: "void",
    Expire: "expire",
    Redeem: "redeem",
    Refund: "refund",
    Reverse: "reverse",
    Post: "post",
    Settle: "settle",
    Collect: "collect",
    ReturnSplit: "split_return",
    PayOut: "payout",
}


def op_body(op: Operation) -> dict[str, Any]:
    """The request body an idempotency key is bound to (the key itself excluded)."""
    body: dict[str, Any] = {"kind": OP_KINDS[type(op)]}
    for f in dataclasses.fields(op):
        if f.name == "key":
            continue
        value = getattr(op, f.name)
        if value is None and f.metadata.get("omit_if_none"):
            continue
        if f.name == "legs":
            value = [[leg.account, leg.asset.value, leg.amount, leg.lot_id] for leg in value]
        elif isinstance(value, Cap):
            value = [value.key, value.limit_points]
        body[f.name] = value
    return body


@dataclass(frozen=True, slots=True)
class Entry:
    """One recorded journal entry. ``legs`` is empty only for a refund that clawed back nothing."""

    entry_id: str
    key: str
    body_hash: str
    kind: str
    at: datetime
    legs: tuple[Leg, ...]
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Receipt:
    """What a caller gets back for an operation; ``replayed`` is True for a repeated key."""

    entry_id: str
    key: str
    kind: str
    at: datetime
    legs: tuple[Leg, ...]
    detail: Mapping[str, Any]
    replayed: bool = False
