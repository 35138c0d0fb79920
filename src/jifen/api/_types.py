"""Field types and limits for what comes in over the wire.

``UtcDatetime`` is every incoming time (a payment, an effective date, the simulated clock): ISO 8601
with a zone, inside the supported years (``jifen.rules.SUPPORTED_FROM`` inclusive to
``SUPPORTED_UNTIL`` exclusive, 2000–2199 UTC), normalised to UTC. The check raises ``ValueError``
so pydantic reports it as ``request.invalid`` at the field's path: a time the calendar cannot hold
(``9999-12-31T23:59:59-14:00`` is in year 10000 once in UTC) is a refused request, never an
``OverflowError`` deep in a service or the store.

Plain ``datetime`` rather than ``AwareDatetime`` underneath, so that a time without a zone is
refused with the same bilingual message as the rest, by the one check.

Every type a person may get wrong names its plain description (``hinted``: "a mainland mobile
number, 11 digits starting with 1"), so that a refusal says what the field must be in the caller's
language (``jifen.api._fields``) instead of which check failed in pydantic's English.

Limits are the services' own where the services have one (the id pattern is the ledger's
``ID_PATTERN``); where the API is deliberately tighter than the ledger, the bound is named for
what it bounds and asserted against the ledger's here, at import, so the two cannot drift apart
into an amount the API accepts and the ledger refuses.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    StrictInt,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
)
from pydantic_core import PydanticCustomError

from jifen.ledger.model import ID_PATTERN, MAX_FEN, MAX_POINTS
from jifen.rules import FIRST_SUPPORTED_YEAR, LAST_SUPPORTED_YEAR, supported_utc

ID = f"^{ID_PATTERN.pattern}$"
"""An order ref, refund ref, member id or store id: the ledger's ``ID_PATTERN``, anchored."""

MAX_REQUEST_FEN = 10**12
"""Most fen one request may name (an order, a refund, a checkout amount): 10^12 fen = 100 亿元.

Tighter than the ledger's ``MAX_FEN`` (10^14) on purpose: the ledger's bound is on one leg of an
entry, and some legs carry the sum of many requests (a merchant's net settlement for a day, the
reserve's movements), so one request is kept a hundredth of it."""
assert MAX_REQUEST_FEN * 100 <= MAX_FEN, "one request's fen must leave the ledger headroom"

MAX_REQUEST_POINTS = 10**9
"""Most points one redemption may spend; tighter than the ledger's ``MAX_POINTS`` (10^12) for the
same reason as ``MAX_REQUEST_FEN``."""
assert MAX_REQUEST_POINTS * 100 <= MAX_POINTS, "one request's points must leave the ledger headroom"


def _nfkc(value: object) -> object:
    """Text as NFKC before it is checked: a full-width ｏｒｄｅｒ-１ is the same id as order-1, and
    digits a pattern accepts are ASCII digits only (the patterns spell out 0-9, never \\d)."""
    return unicodedata.normalize("NFKC", value) if isinstance(value, str) else value


def hinted(hint: str) -> WrapValidator:
    """A field described in plain words: any failure of the checks it wraps (the type's and
    its ``Field`` constraints') is reported as pydantic error ``jifen_hint`` naming the hint
    (the catalogue's ``hint.<hint>``) and the check that failed (``cause``). Put it last in the
    ``Annotated``, after the constraints it describes."""

    def describe(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        try:
            return handler(value)
        except ValidationError as exc:
            first = exc.errors()[0]
            raise PydanticCustomError(
                "jifen_hint", "{hint}: {cause}", {"hint": hint, "cause": first["type"]}
            ) from None

    return WrapValidator(describe)


NOT_BLANK = r"[^\s\x1c-\x1f]"
"""A reason or note must hold a character that is not white space as Python's ``str.strip()`` (the
services') counts it: the schema's regex engine does not count the separators U+001C..U+001F as
white space, so they are named."""
Text = Annotated[str, BeforeValidator(_nfkc)]
"""An identifier, phone number or code from a caller, normalised before any check."""
Ref = Annotated[Text, hinted("id")]
"""An order ref, refund ref, member id or store id; the field says ``Field(pattern=ID)``.

Text constraints go in the field's ``Field(...)``, not in the ``Annotated``: after the
normalising validator pydantic checks an ``Annotated`` pattern itself and leaves it out of the
JSON Schema, while a field's own constraints reach the string check (and the OpenAPI document);
the hint wraps them either way."""
Phone = Annotated[Text, hinted("phone")]
"""A mainland mobile number as people type it; the field gives the pattern."""
Fen = Annotated[StrictInt, Field(gt=0, le=MAX_REQUEST_FEN), hinted("fen")]
"""Money in fen: a JSON integer. ``"100"``, ``100.0`` and ``true`` are refused, never coerced."""
Points = Annotated[StrictInt, Field(gt=0, le=MAX_REQUEST_POINTS), hinted("points")]
"""Points one request spends: a JSON integer, at least 1."""

UtcDatetime = Annotated[
    datetime,
    AfterValidator(supported_utc),
    Field(
        description=f"ISO 8601, 须带时区 / with a zone; UTC {FIRST_SUPPORTED_YEAR}–"
        f"{LAST_SUPPORTED_YEAR}; 以 UTC 保存 / kept in UTC"
    ),
    hinted("instant"),
]
"""An incoming instant: zone required, supported years only, normalised to UTC."""

__all__ = [
    "ID",
    "MAX_REQUEST_FEN",
    "MAX_REQUEST_POINTS",
    "Fen",
    "Phone",
    "Points",
    "Ref",
    "Text",
    "UtcDatetime",
    "hinted",
]
