"""What the operator's pages share: one idempotent write per form, and dates in China time."""

from __future__ import annotations

import json
import secrets
from datetime import date, datetime, time
from typing import Any

from fastapi import Request
from pydantic import BaseModel

from jifen.api.auth import Caller
from jifen.api.idempotency import Work, once
from jifen.web.render import CHINA


def form_key() -> str:
    """A fresh key for a form as it is rendered: posting the form twice (a double click, a
    reload) presents the same key, so the write happens once."""
    return "web-" + secrets.token_urlsafe(18)


def once_from_form(
    request: Request,
    who: Caller,
    key: str,
    body: BaseModel | None,
    run: Work,
    secret: str | None = None,
) -> tuple[dict[str, Any], bool]:
    """The API's ``Idempotency-Key`` mechanism (``jifen.api.idempotency.once``) with the form's
    hidden key: the answer, and whether it was a replay of an earlier post of the same form."""
    answer = once(request, who, key, body, run, secret=secret)
    replayed = answer.headers.get("Idempotent-Replayed") == "true"
    return json.loads(bytes(answer.body)), replayed


def china_midnight(day: date) -> datetime:
    """The start of ``day`` in China time: what a date typed on a page means."""
    return datetime.combine(day, time(0, 0), CHINA)


def china_today(now: datetime) -> date:
    return now.astimezone(CHINA).date()
