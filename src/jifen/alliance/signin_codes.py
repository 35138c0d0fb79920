"""Members sign in with a one-time code sent by SMS to the enrolled phone (短信验证码登录).

A code is 6 digits, lives five minutes, serves once, and is kept only as a keyed MAC
(``ctx.secrets.mac("sms-code", ...)``), never in clear. Only the latest code sent to a number
counts, and five wrong tries lock it. Asking is limited per number (one a minute, five an hour)
and per client address (``PER_ADDRESS`` an hour).

No enumeration: a number nobody enrolled gets the same answer, the same limits and a row of its
own (a MAC of nothing anyone knows), only no SMS; trying a code against it fails exactly as a
wrong code does; the consoles send the text after answering (``deliver``), so even the time
an answer takes is the same. Codes run on the wall clock the caller passes (the consoles'
``web.now()``), not the store's simulated clock. Rows older than a day are deleted as new codes
are asked for.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row, delete, func, select, update

from jifen.alliance.errors import SignInCodeInvalid, SignInCodeLocked, SignInRateLimited
from jifen.alliance.members import normalize_phone
from jifen.app.context import Context
from jifen.app.paging import ordered_id
from jifen.sms import SmsFailed, SmsSender
from jifen.store import tables as t

CODE_DIGITS = 6
CODE_TTL = timedelta(minutes=5)
MAX_TRIES = 5
PER_PHONE = ((timedelta(seconds=60), 1), (timedelta(hours=1), 5))
PER_ADDRESS = ((timedelta(hours=1), 30),)
KEEP = timedelta(days=1)
MAC_PURPOSE = "sms-code"
log = logging.getLogger("jifen.alliance.signin")


@dataclass(frozen=True)
class CodeSent:
    """What the caller may say: a code was sent *if* the number is enrolled, valid until."""

    expires_at: datetime
    ttl_minutes: int


@dataclass(frozen=True)
class Delivery:
    """The text still to send (None for a number nobody enrolled). In memory only: the code in
    clear lives here and in the SMS, nowhere else."""

    message: tuple[str, str, int] | None  # (number, code, ttl minutes)

    def __repr__(self) -> str:  # never the code in a log or a traceback
        return f"Delivery(to_send={self.message is not None})"


def _code_mac(ctx: Context, code_id: str, code: str) -> str:
    return ctx.secrets.mac(MAC_PURPOSE, f"{code_id}:{code}")


def _limit(
    conn: Connection,
    column: Any,
    key: str,
    now: datetime,
    rules: tuple[tuple[timedelta, int], ...],
) -> None:
    c = t.signin_codes.c
    for window, most in rules:
        since = now - window
        asked = conn.execute(
            select(func.count(), func.min(c.created_at)).where(column == key, c.created_at > since)
        ).one()
        if asked[0] >= most:
            wait = int((asked[1] + window - now).total_seconds()) + 1
            raise SignInRateLimited(
                f"请求过于频繁，请 {wait} 秒后再试 / too many codes asked for: retry in {wait} s",
                retry_after_s=wait,
            )


def send_code(ctx: Context, sms: SmsSender, phone: str, address: str, now: datetime) -> CodeSent:
    """Send a code to ``phone`` if it is an enrolled member's (else only record the request);
    a provider's refusal is raised (``SmsFailed``)."""
    sent, delivery = request_code(ctx, phone, address, now)
    if delivery.message is not None:
        sms.send_code(*delivery.message)
    return sent


def deliver(sms: SmsSender, delivery: Delivery) -> None:
    """Send what ``request_code`` left to send, after the answer has gone (the consoles run it
    as a background task): an enrolled number's answer then takes no longer than a stranger's,
    so timing tells nothing either. A provider's refusal is logged; the member asks again."""
    if delivery.message is None:
        return
    try:
        sms.send_code(*delivery.message)
    except SmsFailed as exc:
        log.error("sign-in code not delivered: %s", exc.context.get("provider_code"))


def request_code(
    ctx: Context, phone: str, address: str, now: datetime
) -> tuple[CodeSent, Delivery]:
    """Record a code request (limits first) and make the code; the text is not sent yet."""
    number = normalize_phone(phone)
    phone_key = ctx.secrets.lookup(number)
    address_key = ctx.secrets.mac("sms-address", address)
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    code_id = ordered_id("s")
    c = t.signin_codes.c
    with ctx.writer.begin() as conn:
        conn.execute(delete(t.signin_codes).where(c.created_at < now - KEEP))
        _limit(conn, c.phone_key, phone_key, now, PER_PHONE)
        _limit(conn, c.address_key, address_key, now, PER_ADDRESS)
        m = t.members.c
        member_id = conn.execute(
            select(m.member_id).where(m.phone_lookup == phone_key, m.erased_at.is_(None))
        ).scalar_one_or_none()
        conn.execute(
            t.signin_codes.insert().values(
                phone_key=phone_key,
                code_id=code_id,
                member_id=member_id,
                address_key=address_key,
                # nobody enrolled: a MAC of a code nobody is told, so no code can ever match
                code_mac=_code_mac(ctx, code_id, code if member_id else secrets.token_hex(16)),
                created_at=now,
                expires_at=now + CODE_TTL,
                tries=0,
                used_at=None,
            )
        )
    ttl_minutes = int(CODE_TTL.total_seconds() // 60)
    message = (number, code, ttl_minutes) if member_id is not None else None
    return CodeSent(now + CODE_TTL, ttl_minutes), Delivery(message)


def check_code(ctx: Context, phone: str, code: str, now: datetime) -> str:
    """The member id the code signs in, once; else ``SignInCodeInvalid`` (wrong, used, expired,
    never sent) or ``SignInCodeLocked`` (five wrong tries)."""
    number = normalize_phone(phone)
    phone_key = ctx.secrets.lookup(number)
    offered = "".join(ch for ch in code if not ch.isspace())
    c = t.signin_codes.c
    with ctx.writer.begin() as conn:
        row = conn.execute(
            select(t.signin_codes)
            .where(c.phone_key == phone_key)
            .order_by(c.created_at.desc(), c.code_id.desc())
            .limit(1)
            .with_for_update()
        ).first()
        outcome = _judge(ctx, row, offered, now)
        if row is not None and outcome != "locked":
            where = (c.phone_key == phone_key) & (c.code_id == row.code_id)
            if outcome == "good":
                conn.execute(update(t.signin_codes).where(where).values(used_at=now))
            elif outcome == "wrong":  # the try counts, though the sign-in is refused
                conn.execute(update(t.signin_codes).where(where).values(tries=c.tries + 1))
    if outcome == "locked":
        raise SignInCodeLocked(
            "错误次数过多，请重新获取验证码 / too many wrong codes: ask for a new one"
        )
    if outcome != "good" or row is None:
        raise SignInCodeInvalid("验证码错误或已失效 / the code is wrong or no longer valid")
    return str(row.member_id)


def _judge(ctx: Context, row: Row[Any] | None, offered: str, now: datetime) -> str:
    """good | wrong (counts as a try) | gone (used, expired, never sent) | locked."""
    if row is None or row.used_at is not None or row.expires_at <= now:
        return "gone"
    if row.tries >= MAX_TRIES:
        return "locked"
    good = secrets.compare_digest(row.code_mac, _code_mac(ctx, row.code_id, offered))
    return "good" if good and row.member_id is not None else "wrong"


def forget_phone(conn: Connection, phone_lookup: str) -> None:
    """Erasure: every code row of that number goes."""
    conn.execute(delete(t.signin_codes).where(t.signin_codes.c.phone_key == phone_lookup))
