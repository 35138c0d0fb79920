"""Every user-facing message in each language Jifen speaks, zh-CN (the default) and en.

The messages live in gettext catalogues, ``jifen/locale/<lang>/LC_MESSAGES/*.po``, read with
Babel when first needed (no compile step: the ``.po`` text is the catalogue). A message id is a
stable key, never the English text: ``<code>.title`` and ``<code>.detail`` for each error code,
``<code>.detail.<detail_key>`` where one code has several situations worth telling apart (the
raise site names it: ``InvalidRequest(..., detail_key="cursor")``), ``field.<type>`` and
``hint.<name>`` for the API's field errors. A message string is a ``str.format`` template over the
error's context (``{points}``, ``{merchant_id}``).

Adding a code is adding its entries to both catalogues; adding a language is one more catalogue
and one more entry in ``LANGUAGES`` (docs/architecture.md, "Messages and languages").
``tests/test_i18n.py`` holds every catalogued code to both languages.

This package is pure but for reading its own catalogue files: any entry point may use it, and it
imports nothing of Jifen.
"""

from __future__ import annotations

import logging
import string
from collections.abc import Mapping
from functools import cache
from importlib.resources import files
from typing import Any

from babel import Locale, UnknownLocaleError, negotiate_locale
from babel.messages.pofile import read_po

LANGUAGES: Mapping[str, str] = {"zh-CN": "zh_CN", "en": "en"}
"""Language tag as the API answers it (``Content-Language``) → its catalogue's directory."""
DEFAULT_LANGUAGE = "zh-CN"
MAX_ACCEPT_LANGUAGE_CHARS = 512
"""An ``Accept-Language`` longer than this is read no further (a header is not a workload)."""

log = logging.getLogger("jifen.i18n")
_BY_LANGUAGE = {tag.split("-")[0]: tag for tag in LANGUAGES}  # "zh" → "zh-CN"


class MissingMessage(KeyError):
    """A message id the catalogue lacks, or a template field the context lacks."""


def negotiate(accept_language: str | None) -> str:
    """The language to answer in, from an ``Accept-Language`` header (RFC 9110 §12.5.4): the
    caller's most preferred language Jifen speaks, by quality then order; zh-CN when the header
    is absent, unreadable or names nothing Jifen speaks. Any Chinese (``zh``, ``zh-Hans``,
    ``zh-TW``) is answered in zh-CN, the one Chinese catalogue; any English in en."""
    preferred = []
    for tag in _ranked(accept_language or ""):
        if tag == "*":
            return DEFAULT_LANGUAGE
        try:
            preferred.append(Locale.parse(tag, sep="-").language)
        except (ValueError, TypeError, UnknownLocaleError):
            continue
    chosen = negotiate_locale(preferred, list(_BY_LANGUAGE))
    return _BY_LANGUAGE.get(chosen or "", DEFAULT_LANGUAGE)


def _ranked(header: str) -> list[str]:
    """The header's language tags, most preferred first; ``q=0`` (not acceptable) dropped."""
    weighted = []
    for position, item in enumerate(header[:MAX_ACCEPT_LANGUAGE_CHARS].split(",")):
        tag, *params = (part.strip() for part in item.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if tag and 0 < quality <= 1:
            weighted.append((-quality, position, tag))
    return [tag for _, _, tag in sorted(weighted)]


@cache
def catalogue(lang: str) -> Mapping[str, str]:
    """Message id → template of one language, read once from its ``.po`` files: ``jifen.po``
    (the API's messages) and one file per console area (``web-<area>.po``), so that people
    working on different pages never edit the same file. An id defined twice is a bug, refused
    here rather than one definition silently winning."""
    folder = files("jifen").joinpath("locale", LANGUAGES[lang], "LC_MESSAGES")
    merged: dict[str, str] = {}
    for source in sorted(folder.iterdir(), key=lambda p: p.name):
        if not source.name.endswith(".po"):
            continue
        with source.open("rb") as po:
            read = read_po(po, locale=LANGUAGES[lang])
        for m in read:
            if not (m.id and m.string and not m.fuzzy):
                continue
            if str(m.id) in merged:
                raise ValueError(f"{source.name}: message id {m.id!r} is defined twice")
            merged[str(m.id)] = str(m.string)
    return merged


def fields(template: str) -> frozenset[str]:
    """The context fields a template needs (``{points}`` → ``points``)."""
    return frozenset(
        name.split(".")[0].split("[")[0]
        for _, name, _, _ in string.Formatter().parse(template)
        if name
    )


def text(msgid: str, lang: str, /, **context: Any) -> str:
    """One message, formatted; ``MissingMessage`` if the id or a field it needs is missing."""
    template = catalogue(lang).get(msgid)
    if template is None:
        raise MissingMessage(msgid)
    try:
        return template.format(**context)
    except (KeyError, IndexError) as exc:
        raise MissingMessage(f"{msgid}: {exc}") from exc


def title(code: str, lang: str) -> str:
    """A code's short title (``积分不足`` / ``Not enough points``)."""
    try:
        return text(f"{code}.title", lang)
    except MissingMessage:
        log.error("no %s title for %s in the message catalogue", lang, code)
        return text("generic.title", lang)


def message(code: str, lang: str, /, **context: Any) -> str:
    """A code's detail in ``lang``, formatted with the error's context. The raise site's
    ``detail_key`` picks a variant (``request.invalid.detail.cursor``) where the catalogue has
    one. A template whose field the context lacks is a bug at a raise site, never a crash for
    the caller: it is logged and the code's generic detail answered."""
    key = context.get("detail_key")
    msgid = f"{code}.detail.{key}" if key and f"{code}.detail.{key}" in catalogue(lang) else None
    for candidate in (msgid, f"{code}.detail"):
        if candidate is None:
            continue
        try:
            return text(candidate, lang, **context)
        except MissingMessage as exc:
            log.error("message %s cannot be formatted in %s: %s", candidate, lang, exc)
    return text("generic.detail", lang, code=code)


__all__ = [
    "DEFAULT_LANGUAGE",
    "LANGUAGES",
    "MissingMessage",
    "catalogue",
    "fields",
    "message",
    "negotiate",
    "text",
    "title",
]
