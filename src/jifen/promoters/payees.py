"""Payees: the promoters who may be paid their referral rewards (docs/referrals.md, payees).

A promoter (a member) registers a real name, a 居民身份证号 and a WeChat openid as the payout
identity, with a separate consent (PIPL art 28–29, compliance.md PII-1: an ID number and a
payment account are sensitive personal information). The three are stored only sealed
(``Secrets.seal_text``, AES-256-GCM under a key derived for the field *and the member*, so a
sealed value copied into another member's row does not open), beside a masked hint. Withholding
needs the payee's real identity (个人所得税扣缴申报: name and ID number on the return), so the
operator then marks the payee **verified** with the reference of the check that proved it (a
KYC vendor's or the provider's real-name check id: Jifen does not verify identities itself).
Only a verified, consenting payee is paid; until then what is owed stays owed and shows as
awaiting verification.

A bank card is refused for now: WeChat's 商家转账 pays a person's 零钱 by openid only, and the
reserve's depository payout pays merchants' settlement accounts, not persons.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, select, update

from jifen.app.context import Context
from jifen.promoters.errors import (
    PayeeAccountUnsupported,
    PayeeConsentRequired,
    PayeeInvalid,
    PayeeNotFound,
)
from jifen.store import insert_missing
from jifen.store import tables as t

PAYEE_CONSENT_VERSION = "payee-2026-12"
"""The version of the consent text a payee agrees to (姓名、身份证号与收款账户用于实名核验、
个人所得税代扣代缴与佣金发放). A new text gets a new version; a registration must name the
current one, and a payee who agreed to an older one is asked again before the next payout."""
WECHAT_OPENID = "wechat_openid"
BANK_CARD = "bank_card"
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"
_ID = re.compile(r"[1-9][0-9]{16}[0-9X]")
_OPENID = re.compile(r"[A-Za-z0-9_-]{6,128}")
_REFERENCE = re.compile(r"[A-Za-z0-9._:/@-]{1,128}")
MAX_NAME = 64


@dataclass(frozen=True)
class Registration:
    """What a promoter sends to register (or change) as a payee."""

    real_name: str
    id_number: str
    account_kind: str  # wechat_openid (bank_card is refused, see the module)
    account: str
    consent_version: str | None  # the consent text version the promoter agreed to, or None


@dataclass(frozen=True)
class Payee:
    """A payee as people see it: masks only, never the sealed values."""

    member_id: str
    name_mask: str
    id_mask: str
    account_kind: str
    account_hint: str
    consent_version: str | None
    consented_at: datetime | None
    verified_at: datetime | None
    verification_ref: str | None
    payable: bool  # verified and consenting to the current text: the next batch pays them
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class Identity:
    """A payee's identity in clear, for the payout (the openid, the name ≥ ¥2,000) and the
    operator's withholding return. Never logged, never shown to a member."""

    member_id: str
    real_name: str
    id_number: str
    account_kind: str
    account: str


def id_number_valid(text: str) -> bool:
    """A 18-digit 居民身份证号 (GB 11643-1999): a non-zero area digit, a real birth date, and
    the ISO 7064 MOD 11-2 check character."""
    if not _ID.fullmatch(text):
        return False
    try:
        born = date(int(text[6:10]), int(text[10:12]), int(text[12:14]))
    except ValueError:
        return False
    if born.year < 1900:
        return False
    total = sum(int(d) * w for d, w in zip(text[:17], ID_WEIGHTS, strict=True))
    return ID_CHECK[total % 11] == text[17]


def mask_name(name: str) -> str:
    """张三 → 张*, 欧阳娜娜 → 欧***: the surname's first character and the length."""
    return name[:1] + "*" * (len(name) - 1)


def mask_id(number: str) -> str:
    return number[:1] + "*" * 16 + number[-1:]


def mask_account(account: str) -> str:
    return "****" + account[-4:]


def check_registration(reg: Registration) -> Registration:
    """The registration cleaned (whitespace off, the check letter upper case), or the refusal."""
    if reg.consent_version != PAYEE_CONSENT_VERSION:
        raise PayeeConsentRequired(
            "须单独同意收款信息的处理 / registering as a payee needs the separate consent to "
            f"the current text ({PAYEE_CONSENT_VERSION})",
            version=PAYEE_CONSENT_VERSION,
        )
    name = reg.real_name.strip()
    if not 2 <= len(name) <= MAX_NAME or any(not (c.isalpha() or c in "·• ") for c in name):
        raise PayeeInvalid("姓名格式有误 / the real name is not a name", field="real_name")
    number = reg.id_number.strip().upper()
    if not id_number_valid(number):
        raise PayeeInvalid(
            "身份证号格式或校验位有误 / the ID number's form or check digit is wrong",
            field="id_number",
        )
    if reg.account_kind == BANK_CARD:
        raise PayeeAccountUnsupported(
            "暂不支持银行卡收款，请使用微信零钱 / bank cards are not supported yet: use a WeChat "
            "openid (docs/referrals.md)",
            account_kind=reg.account_kind,
        )
    account = reg.account.strip()
    if reg.account_kind != WECHAT_OPENID or not _OPENID.fullmatch(account):
        raise PayeeInvalid("收款账户有误 / the payout account is not an openid", field="account")
    return Registration(name, number, WECHAT_OPENID, account, reg.consent_version)


def _purpose(field: str, member_id: str) -> str:
    return f"payee-{field}:{member_id}"


def register(ctx: Context, member_id: str, reg: Registration, now: datetime) -> Payee:
    """Register or change the member's payee identity. Sending the same identity again changes
    nothing (an idempotent PUT); a changed name, ID number or account needs verifying again."""
    clean = check_registration(reg)

    def work(conn: Connection) -> None:
        old = conn.execute(
            select(t.payees).where(t.payees.c.member_id == member_id).with_for_update()
        ).first()
        if old is not None and _identity_of(ctx, old) == (
            clean.real_name,
            clean.id_number,
            clean.account_kind,
            clean.account,
        ):
            if old.consent_version != clean.consent_version:
                conn.execute(
                    update(t.payees)
                    .where(t.payees.c.member_id == member_id)
                    .values(consent_version=clean.consent_version, consented_at=now, updated_at=now)
                )
            return
        values = {
            "real_name_sealed": ctx.secrets.seal_text(_purpose("name", member_id), clean.real_name),
            "id_number_sealed": ctx.secrets.seal_text(_purpose("id", member_id), clean.id_number),
            "account_kind": clean.account_kind,
            "account_sealed": ctx.secrets.seal_text(_purpose("account", member_id), clean.account),
            "account_hint": mask_account(clean.account),
            "verified_at": None,
            "verification_ref": None,
            "consent_version": clean.consent_version,
            "consented_at": now,
            "updated_at": now,
        }
        if old is None:
            insert_missing(conn, t.payees, [{"member_id": member_id, "created_at": now, **values}])
        else:
            conn.execute(update(t.payees).where(t.payees.c.member_id == member_id).values(values))

    ctx.atomic(None, work)
    return payee(ctx, member_id)


def _identity_of(ctx: Context, row: Any) -> tuple[str, str, str, str] | None:
    if not getattr(row, "account_sealed", ""):
        return None  # erased: only the tax record's name and number are kept
    member_id = str(row.member_id)
    unseal = ctx.secrets.unseal_text
    return (
        unseal(_purpose("name", member_id), str(row.real_name_sealed)),
        unseal(_purpose("id", member_id), str(row.id_number_sealed)),
        str(row.account_kind),
        unseal(_purpose("account", member_id), str(row.account_sealed)),
    )


def _row(ctx: Context, member_id: str, conn: Connection | None = None) -> Any:
    with ctx.reading(conn) as c:
        row = c.execute(select(t.payees).where(t.payees.c.member_id == member_id)).first()
    if row is None:
        raise PayeeNotFound("尚未登记收款信息 / no payee registered", member_id=member_id)
    return row


def payable(row: Any) -> bool:
    """Verified, consenting to the current text, and not erased."""
    return (
        row.verified_at is not None
        and row.consent_version == PAYEE_CONSENT_VERSION
        and bool(row.account_sealed)
    )


def payee(ctx: Context, member_id: str, *, conn: Connection | None = None) -> Payee:
    """The member's payee record, masked (``PayeeNotFound`` if none)."""
    row = _row(ctx, member_id, conn)
    r = row._mapping
    name = ctx.secrets.unseal_text(_purpose("name", member_id), r["real_name_sealed"])
    number = ctx.secrets.unseal_text(_purpose("id", member_id), r["id_number_sealed"])
    return Payee(
        member_id=member_id,
        name_mask=mask_name(name),
        id_mask=mask_id(number),
        account_kind=r["account_kind"],
        account_hint=r["account_hint"],
        consent_version=r["consent_version"],
        consented_at=r["consented_at"],
        verified_at=r["verified_at"],
        verification_ref=r["verification_ref"],
        payable=payable(row),
        created_at=r["created_at"],
        updated_at=r["updated_at"],
    )


def identity(ctx: Context, member_id: str, *, conn: Connection | None = None) -> Identity:
    """The payee's identity in clear: for the provider's transfer and the operator's return.
    An erased payee keeps its name and ID number (tax records) but no account."""
    row = _row(ctx, member_id, conn)
    r = row._mapping
    unseal = ctx.secrets.unseal_text
    account = r["account_sealed"]
    return Identity(
        member_id,
        unseal(_purpose("name", member_id), r["real_name_sealed"]),
        unseal(_purpose("id", member_id), r["id_number_sealed"]),
        r["account_kind"],
        unseal(_purpose("account", member_id), account) if account else "",
    )


def verify(ctx: Context, member_id: str, reference: str, now: datetime) -> Payee:
    """The operator marks the payee's real name verified, naming the check that proved it (a
    KYC vendor's or the provider's real-name check id). Marking it again with the same
    reference changes nothing; another reference replaces it."""
    if not _REFERENCE.fullmatch(reference):
        raise PayeeInvalid(
            "核验编号须为 1–128 个字母、数字或 ._:/@- / the verification reference is 1–128 of "
            "A-Z a-z 0-9 ._:/@-",
            field="reference",
        )

    def work(conn: Connection) -> None:
        row = _row(ctx, member_id, conn)
        if row.verification_ref == reference:
            return
        conn.execute(
            update(t.payees)
            .where(t.payees.c.member_id == member_id)
            .values(verified_at=now, verification_ref=reference, updated_at=now)
        )

    ctx.atomic(None, work)
    return payee(ctx, member_id)
