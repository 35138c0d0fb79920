"""The journal as a Beancount ledger (issue 15), pure: what auditors open in their own tools
(``bean-check``, Fava) to see Jifen's books without trusting Jifen's code.

- Commodities ``POINTS`` (whole points) and ``CNY`` (yuan with exactly two decimals, written from
  integer fen by integer arithmetic: never a float).
- One Beancount account per ledger account, opened (with ``jifen_account`` metadata naming it) on
  the booking day of its first entry, restricted to its one commodity. Names are an injective
  mapping (``account_name``): the root by account kind (``ROOTS``), then a section (``System``,
  ``Member``, ``Merchant``), then the owner's id escaped (``escape_id``), then the purpose.
- One transaction per entry, dated on its booking day in Asia/Shanghai, narration = its kind, with
  the entry id, key, block and entry hash as metadata and each leg's lot as posting metadata.
- **Signs are Jifen's**: a leg's amount as the journal records it (positive = credit to the
  account, docs/ledger.md), the opposite of Beancount's debit-positive habit. Members' points
  (liabilities) are therefore positive, the issuance account (the source of every point) and cash
  negative. Beancount checks only that every transaction sums to zero per commodity, which
  Jifen's entries do (the planner asserts it, a manual entry is refused otherwise).
- A ``balance`` assertion for every account on the day after the last entry, so ``bean-check``
  itself checks the balances the export's own checker re-derives.

docs/audit-export.md gives the mapping table.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from jifen.ledger.model import (
    CLEARING,
    FEE_CASH,
    REFERRAL_PAYABLE,
    RESERVE,
    RESERVE_CASH,
    REVENUE,
    TAX_WITHHELD,
    AccountKind,
    Asset,
    Entry,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")

ROOTS: Mapping[AccountKind, str] = {
    AccountKind.MEMBER_PENDING: "Liabilities",  # points owed to members, not yet spendable
    AccountKind.MEMBER_AVAILABLE: "Liabilities",  # points owed to members
    AccountKind.MERCHANT_ACCEPTED: "Income",  # redeemed: the obligation is met (IFRS 15)
    AccountKind.ISSUANCE: "Equity",  # the source of every point, like opening balances
    AccountKind.EXPIRED: "Income",  # breakage
    AccountKind.CLAWBACK: "Equity",  # issuance taken back on refunds and voids
    AccountKind.SYSTEM_CNY: "Liabilities",  # unless named in SYSTEM_NAMES
    AccountKind.MERCHANT_CNY: "Assets",  # receivable from (payable to, when positive) a merchant
}
"""The Beancount root of each account kind."""

SYSTEM_NAMES: Mapping[str, tuple[str, str]] = {
    "system:issuance": ("Equity", "Issuance"),
    "system:clawback": ("Equity", "Clawback"),
    "system:expired": ("Income", "Expired"),
    RESERVE: ("Liabilities", "Reserve"),  # held for the outstanding points' redemption value
    REVENUE: ("Income", "Revenue"),
    CLEARING: ("Liabilities", "Clearing"),  # settled nets to be paid out
    RESERVE_CASH: ("Assets", "ReserveCash"),
    FEE_CASH: ("Assets", "FeeCash"),
    REFERRAL_PAYABLE: ("Liabilities", "ReferralPayable"),
    TAX_WITHHELD: ("Liabilities", "TaxWithheld"),
}
"""The system accounts by name: root and the last component. Others: ``<root>:System:Other:…``."""

PURPOSES = {"pending": "Pending", "available": "Available", "accepted": "Accepted", "cny": "Cny"}


def escape_id(text: str) -> str:
    """An id as one Beancount name component: ``I`` and then the id with every character but
    A-Z a-z 0-9 written ``-XX`` (each UTF-8 byte in upper-case hex). Injective (the escape
    character ``-`` is itself escaped) and valid (``[A-Z0-9][A-Za-z0-9-]*``) whatever the id."""
    out = ["I"]
    for ch in text:
        if ch.isascii() and ch.isalnum():
            out.append(ch)
        else:
            out.extend(f"-{b:02X}" for b in ch.encode())
    return "".join(out)


def account_name(account_id: str, kind: AccountKind | None) -> str:
    """The Beancount account of a ledger account (``kind``: None for one the export does not
    know, which goes under ``Equity:Unknown``)."""
    if account_id in SYSTEM_NAMES:
        root, last = SYSTEM_NAMES[account_id]
        return f"{root}:System:{last}"
    if kind is None:
        return f"Equity:Unknown:{escape_id(account_id)}"
    root = ROOTS[kind]
    section, _, rest = account_id.partition(":")
    owner, _, purpose = rest.rpartition(":")
    if section in ("member", "merchant") and owner and purpose in PURPOSES:
        return f"{root}:{section.title()}:{escape_id(owner)}:{PURPOSES[purpose]}"
    if section == "system":
        return f"{root}:System:Other:{escape_id(rest)}"
    return f"{root}:Other:{escape_id(account_id)}"


def amount_text(asset: Asset, amount: int) -> str:
    """Points as a whole number; fen as yuan with exactly two decimals (integer arithmetic)."""
    if asset is Asset.POINTS:
        return f"{amount} POINTS"
    sign = "-" if amount < 0 else ""
    yuan, fen = divmod(abs(amount), 100)
    return f"{sign}{yuan}.{fen:02d} CNY"


def booking_day(at: datetime) -> date:
    return at.astimezone(SHANGHAI).date()


def quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def header(first_day: date, *, title: str = "Jifen ledger export") -> str:
    return (
        f"; Jifen journal as Beancount (docs/audit-export.md). Amounts keep Jifen's signs:\n"
        f"; positive = credit to the account, the opposite of Beancount's usual convention.\n"
        f'option "title" {quoted(title)}\n'
        'option "operating_currency" "CNY"\n\n'
        f"{first_day.isoformat()} commodity POINTS\n"
        '  name: "Jifen points (whole points)"\n'
        f"{first_day.isoformat()} commodity CNY\n"
        '  name: "Renminbi (yuan, two decimals; Jifen counts integer fen)"\n\n'
    )


def open_directive(account_id: str, kind: AccountKind | None, asset: Asset, day: date) -> str:
    name = account_name(account_id, kind)
    return f"{day.isoformat()} open {name} {asset.value}\n  jifen_account: {quoted(account_id)}\n"


def transaction(
    entry: Entry,
    *,
    chain_id: int,
    height: int,
    entry_hash: str,
    kinds: Mapping[str, AccountKind | None],
) -> str:
    """One entry as one transaction (a refund that clawed back nothing has no postings)."""
    lines = [
        f"{booking_day(entry.at).isoformat()} * {quoted(entry.kind)}",
        f"  jifen_entry: {quoted(entry.entry_id)}",
        f"  jifen_key: {quoted(entry.key)}",
        f"  jifen_block: {quoted(f'{chain_id}/{height}')}",
        f"  jifen_entry_hash: {quoted(entry_hash)}",
    ]
    for leg in entry.legs:
        name = account_name(leg.account, kinds.get(leg.account))
        lines.append(f"  {name}  {amount_text(leg.asset, leg.amount)}")
        if leg.lot_id is not None:
            lines.append(f"    jifen_lot: {quoted(leg.lot_id)}")
    return "\n".join(lines) + "\n\n"


def balance_directive(
    account_id: str, kind: AccountKind | None, asset: Asset, amount: int, day: date
) -> str:
    name = account_name(account_id, kind)
    return f"{day.isoformat()} balance {name}  {amount_text(asset, amount)}\n"


def assertion_day(last_booking_day: date) -> date:
    """A ``balance`` directive checks the balance at the start of its day: the day after."""
    return last_booking_day + timedelta(days=1)
