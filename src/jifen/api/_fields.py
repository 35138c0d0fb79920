"""Field errors in plain words: pydantic's validation errors as ``request.invalid``'s ``errors``.

Each invalid field becomes ``{"path", "type", "message"}``: ``path`` as the request spells it
(``body.phone``), ``type`` pydantic's stable error type (``string_too_short``, ``int_type``), and
``message`` in the caller's language from the catalogue. A field whose type names its own plain
description (``jifen.api._types.hinted``: a phone, an amount in fen, an id) is described by it,
whatever check failed ("must be a mainland mobile number, 11 digits starting with 1"); any other
field by what failed (``field.<type>``, formatted with pydantic's context: ``{min_length}``).
A type the catalogue does not name is ``field.other``, never pydantic's English. A rule term
refused for compliance (an entry fee, headcount pay, a territory, a third referral level) also
carries the ``finding`` id (``PYR-1``) its message names.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from jifen import i18n
from jifen.rules import COMPLIANCE_REFUSED

HINT_ERROR = "jifen_hint"
"""The pydantic error type of a hinted field (its context holds the hint and the cause)."""
PLAIN_PREFIX = "Value error, "
"""What pydantic puts before a ``ValueError``'s own message."""
log = logging.getLogger("jifen.api")


def field_errors(errors: Sequence[Mapping[str, Any]], lang: str) -> list[dict[str, str]]:
    """Every invalid field of a request, in ``lang``."""
    return [_one(error, lang) for error in errors]


def _one(error: Mapping[str, Any], lang: str) -> dict[str, str]:
    path = ".".join(str(p) for p in error.get("loc", ()))
    kind = str(error.get("type", ""))
    context = dict(error.get("ctx") or {})
    if kind == HINT_ERROR:
        kind = str(context.get("cause", ""))
        msgid, context = "field.hinted", {"hint": _hint(str(context.get("hint")), lang)}
    else:
        msgid = f"field.{kind}"
        if kind == "value_error":  # our own validators' reason, as they wrote it
            context["reason"] = str(error.get("msg", "")).removeprefix(PLAIN_PREFIX)
        if kind == COMPLIANCE_REFUSED:
            reason = context.get("reason_zh" if lang == i18n.DEFAULT_LANGUAGE else "reason_en")
            context = {"finding": context.get("finding", ""), "reason": reason}
    try:
        message = i18n.text(msgid, lang, **context)
    except i18n.MissingMessage:
        message = i18n.text("field.other", lang)
    answer = {"path": path, "type": kind, "message": message}
    if kind == COMPLIANCE_REFUSED:
        answer["finding"] = str(context["finding"])
    return answer


def _hint(hint: str, lang: str) -> str:
    try:
        return i18n.text(f"hint.{hint}", lang)
    except i18n.MissingMessage:  # a type naming a hint the catalogue lacks: a bug, never a 500
        log.error("no %s text for hint %s in the message catalogue", lang, hint)
        return i18n.text("field.other", lang)
