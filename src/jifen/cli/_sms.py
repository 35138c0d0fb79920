"""``jifen serve --sms``: which SMS provider sends members their sign-in codes.

``none`` (the default): SMS sign-in is off and the member sign-in page says so. ``console``:
development and tests only; the code is written to the log, so it is only ever used when
asked for by name, and on a store running the real clock the banner says loudly that anyone
reading the log can sign in as any member. ``aliyun``: Aliyun SMS, from ``--sms-credentials``
(a JSON file, never the database; docs/privacy.md).
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import typer

from jifen.app import SimulatedClock
from jifen.app.context import Context
from jifen.cli._output import data, err, say
from jifen.errors import JifenError
from jifen.sms import ConsoleSms, SmsSender


class SmsChoice(StrEnum):
    none = "none"
    console = "console"
    aliyun = "aliyun"


def open_sms(choice: str | None, credentials: Path | None) -> SmsSender | None:
    """The sender ``--sms`` names, its credentials checked before anything starts."""
    if choice in (None, SmsChoice.none):
        return None
    if choice == SmsChoice.console:
        return ConsoleSms()
    if credentials is None:
        raise typer.BadParameter("--sms aliyun needs --sms-credentials FILE", param_hint="--sms")
    from jifen.sms.aliyun import AliyunSms

    try:
        return AliyunSms.from_file(credentials)
    except JifenError as exc:
        raise typer.BadParameter(exc.message, param_hint="--sms-credentials") from exc


def announce_sms(ctx: Context, sms: SmsSender | None) -> None:
    """The banner's SMS line: which provider, and a warning for the console one on real time."""
    if sms is None:
        text = "none: member sign-in by SMS is off (--sms console|aliyun)"
    elif sms.name == "console" and not isinstance(ctx.clock, SimulatedClock):
        text = "console (DEVELOPMENT ONLY: sign-in codes are written to this log, 验证码写入日志)"
    else:
        text = sms.name
    say(err, ("短信 SMS", "bold"), ": ", data(text))
