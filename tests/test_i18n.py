"""Both languages of every error code (issue 12): the message catalogues hold a zh-CN and an en
title and detail for every code the API answers, each formatting with the context that code's
raise sites give; problem details answer in the language ``Accept-Language`` asks for (zh-CN by
default), field errors in plain words; and the negotiation reads the header as browsers send it.
"""

from __future__ import annotations

import ast
import importlib
import logging
import pkgutil
import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

import jifen
from alliance_http import CONSENTS, open_alliance_over_http
from api_server import Server, problem, served
from jifen import i18n
from jifen.api.catalogue import API_ERRORS
from jifen.errors import JifenError

SRC = Path(jifen.__file__).parent
LANGS = tuple(i18n.LANGUAGES)
CJK = re.compile(r"[\u4e00-\u9fff]")
EN = {"Accept-Language": "en"}

HTTP_LAYER_CONTEXT: dict[str, list[dict[str, object]]] = {
    # codes (or situations) the HTTP layer answers itself, with the context it gives them
    # (jifen.api.problems, limits, health, observability)
    "request.invalid": [{"detail_key": "fields", "path": "body.x", "message": "m"}, {}],
    "request.too_large": [{"max_bytes": 1}],
    "not_found": [{}],
    "method_not_allowed": [{}],
    "store.unavailable": [{}],
    "store.not_ready": [{"detail_key": "checks", "failed": "schema"}, {}],
    "internal": [{}],
}


# -- (a) the catalogue ---------------------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("code", sorted(API_ERRORS))
def test_every_answered_code_has_a_title_and_a_detail_in_each_language(
    code: str, lang: str
) -> None:
    messages = i18n.catalogue(lang)
    for part in ("title", "detail"):
        assert messages.get(f"{code}.{part}", "").strip(), f"{lang} {code}.{part} is missing"


def test_the_languages_hold_the_same_messages_with_the_same_fields_and_differ() -> None:
    zh, en = (i18n.catalogue(lang) for lang in LANGS)
    assert set(zh) == set(en), set(zh) ^ set(en)
    for msgid in zh:
        assert i18n.fields(zh[msgid]) == i18n.fields(en[msgid]), msgid
        if msgid.startswith(("hint.", "field.")) and not CJK.search(zh[msgid]):
            continue  # a bare {reason} is the same in every language
        assert zh[msgid] != en[msgid], msgid
        assert CJK.search(zh[msgid]) and not CJK.search(en[msgid].replace("分", "")), msgid


@dataclass(frozen=True)
class RaiseSite:
    where: str
    code: str
    kwargs: frozenset[str]
    detail_keys: tuple[str | None, ...]


def _error_codes_by_class_name() -> dict[str, set[str]]:
    for info in pkgutil.walk_packages(jifen.__path__, "jifen."):
        if ".migrations" not in info.name and not info.name.endswith("__main__"):
            importlib.import_module(info.name)
    found: dict[str, set[str]] = defaultdict(set)
    pending = list(JifenError.__subclasses__())
    while pending:
        cls = pending.pop()
        pending += cls.__subclasses__()
        found[cls.__name__].add(cls.code)
    return found


def _detail_keys(node: ast.expr | None) -> tuple[str | None, ...]:
    """The variants a raise site may name: a constant, or either branch of ``a if c else b``."""
    if node is None or (isinstance(node, ast.Constant) and node.value is None):
        return (None,)
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return (node.value,)
    if isinstance(node, ast.IfExp):
        return _detail_keys(node.body) + _detail_keys(node.orelse)
    raise AssertionError(f"detail_key must be spelled out at the raise site: {ast.unparse(node)}")


def _raise_sites() -> Iterator[RaiseSite]:
    """Every construction of an error class whose code the API answers, with its keywords."""
    codes_of = _error_codes_by_class_name()
    for path in sorted(SRC.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            for code in codes_of.get(str(name), set()) & set(API_ERRORS):
                keywords = {k.arg: k.value for k in node.keywords}
                if None in keywords:  # **context: the keys are not known statically
                    continue
                yield RaiseSite(
                    f"{path.relative_to(SRC)}:{node.lineno}",
                    code,
                    frozenset(str(k) for k in keywords),
                    _detail_keys(keywords.get("detail_key")),
                )


def test_the_walk_finds_the_raise_sites() -> None:
    sites = list(_raise_sites())
    assert len(sites) > 100
    assert {s.code for s in sites} >= {"points.insufficient", "order.not_found", "auth.required"}


def test_every_raise_site_gives_the_fields_its_message_needs_in_both_languages() -> None:
    broken = []
    for site in _raise_sites():
        for lang in LANGS:
            messages = i18n.catalogue(lang)
            for key in site.detail_keys:
                msgid = f"{site.code}.detail" + (f".{key}" if key else "")
                if msgid not in messages:
                    broken.append(f"{site.where}: {msgid} is not in the {lang} catalogue")
                    continue
                missing = i18n.fields(messages[msgid]) - site.kwargs
                if missing:
                    broken.append(f"{site.where}: {msgid} needs {sorted(missing)} ({lang})")
    assert not broken, "\n".join(broken)


@pytest.mark.parametrize("code", sorted(HTTP_LAYER_CONTEXT))
def test_the_http_layers_own_answers_format_in_both_languages(
    code: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="jifen.i18n"):
        for context in HTTP_LAYER_CONTEXT[code]:
            zh, en = (i18n.message(code, lang, **context) for lang in LANGS)
            assert zh and en and zh != en
    assert not caplog.records, caplog.text


def test_every_hint_a_field_type_names_is_in_the_catalogue() -> None:
    hints = {
        node.args[0].value
        for path in SRC.rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Call)
        and getattr(node.func, "id", None) == "hinted"
        and node.args
        and isinstance(node.args[0], ast.Constant)
    }
    assert {"phone", "fen", "id", "points", "instant"} <= hints
    for lang in LANGS:
        assert hints <= {m.removeprefix("hint.") for m in i18n.catalogue(lang)}, lang


def test_a_template_whose_field_is_missing_falls_back_to_a_generic_detail_and_logs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR, logger="jifen.i18n"):
        detail = i18n.message("points.insufficient", "en", points=5)  # no "available"
    assert detail == "The request was refused (points.insufficient)."
    assert "points.insufficient.detail" in caplog.text and "available" in caplog.text
    assert i18n.message("points.insufficient", "zh-CN", points=5, available=0) == (
        "可用积分不足：需要 5，可用 0"
    )


def test_an_unknown_detail_key_uses_the_codes_own_detail() -> None:
    assert i18n.message("request.invalid", "en", detail_key="no_such") == "The request is invalid."
    assert i18n.message("request.invalid", "en", detail_key="limit", max_page=200) == (
        "limit must be between 1 and 200."
    )


# -- (c) negotiation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "lang"),
    [
        (None, "zh-CN"),
        ("", "zh-CN"),
        ("en", "en"),
        ("EN-us", "en"),
        ("en-GB,en;q=0.9", "en"),
        ("zh", "zh-CN"),
        ("zh-CN", "zh-CN"),
        ("zh-Hans", "zh-CN"),
        ("zh-Hans-CN", "zh-CN"),
        ("zh-TW", "zh-CN"),  # the one Chinese catalogue
        ("zh-CN;q=0.9, en;q=0.8", "zh-CN"),
        ("en;q=0.8, zh-CN;q=0.9", "zh-CN"),  # quality, not order, decides
        ("zh;q=0.5, en", "en"),  # no q is q=1
        ("fr-FR, en;q=0.5", "en"),  # the first language Jifen speaks
        ("fr, de", "zh-CN"),  # none: the default
        ("en;q=0, zh", "zh-CN"),  # q=0 is "not acceptable"
        ("*", "zh-CN"),
        ("en;q=abc", "zh-CN"),  # an unreadable quality counts for nothing
        ("%%%, ;;;, en", "en"),
        ("x" * 10_000, "zh-CN"),
    ],
)
def test_accept_language_is_negotiated(header: str | None, lang: str) -> None:
    assert i18n.negotiate(header) == lang


# -- (b) over HTTP -------------------------------------------------------------------------------


@pytest.fixture
def server(db_url: str) -> Iterator[Server]:
    with served(db_url) as running:
        yield running


def _both(call: object, *args: object, **kwargs: object) -> tuple[httpx.Response, httpx.Response]:
    """The same request with no Accept-Language (zh-CN) and with ``Accept-Language: en``."""
    assert callable(call)
    headers = kwargs.pop("headers", {})
    assert isinstance(headers, dict)
    return call(*args, headers=headers, **kwargs), call(*args, headers={**headers, **EN}, **kwargs)


def _languages(zh: httpx.Response, en: httpx.Response) -> None:
    assert zh.headers["content-language"] == "zh-CN" and en.headers["content-language"] == "en"
    for r in (zh, en):
        assert "accept-language" in r.headers["vary"].lower(), r.headers
    assert zh.json()["code"] == en.json()["code"]
    assert CJK.search(zh.json()["title"]) and CJK.search(zh.json()["detail"]), zh.json()
    assert not CJK.search(en.json()["title"] + en.json()["detail"]), en.json()


def test_a_missing_member_is_refused_in_the_language_asked(server: Server) -> None:
    with server.operator() as op:
        zh, en = _both(op.post, "/v1/members/nobody/tokens")
        chinese = op.post("/v1/members/nobody/tokens", headers={"Accept-Language": "zh-Hans"})
    _languages(zh, en)
    assert problem(zh, 404, "member.not_found")["detail"] == "没有这个会员"
    assert problem(en, 404, "member.not_found")["title"] == "No such member"
    assert chinese.json()["detail"] == zh.json()["detail"]


def test_a_short_phone_at_enrolment_is_described_in_plain_words(server: Server) -> None:
    body = {"phone": "12345", "consents": CONSENTS}
    with server.operator() as op:
        zh, en = _both(op.post, "/v1/members", json=body)
    _languages(zh, en)
    for r in (zh, en):
        refusal = problem(r, 422, "request.invalid")
        assert [(e["path"], e["type"]) for e in refusal["errors"]] == [
            ("body.phone", "string_too_short")
        ]
        assert "String should" not in r.text  # never pydantic's English
    assert en.json()["errors"][0]["message"].startswith(
        "must be a mainland mobile number, 11 digits starting with 1"
    )
    assert "中国大陆手机号" in zh.json()["errors"][0]["message"]
    assert en.json()["detail"].startswith("Invalid request: body.phone: must be a mainland mobile")


def test_field_errors_without_a_hint_say_what_failed(server: Server) -> None:
    with server.operator() as op:
        zh, en = _both(op.post, "/v1/members", json={"phone": "13800138000", "extra": 1})
    _languages(zh, en)
    assert {(e["path"], e["type"], e["message"]) for e in en.json()["errors"]} == {
        ("body.consents", "missing", "is required"),
        ("body.extra", "extra_forbidden", "is not a field of this request"),
    }
    assert {e["message"] for e in zh.json()["errors"]} == {"必填", "不是本接口的字段"}


def test_refusals_of_the_ledger_and_the_http_layer_are_localized(server: Server) -> None:
    alliance = open_alliance_over_http(server, {"cafe": "cafe"})
    member_id = alliance.enrol("13800138000", via="cafe")
    code = alliance.code(member_id)
    ask = {"code": code, "points": 100, "order_ref": "r-1", "order_amount_fen": 10_000}
    with alliance.merchant("cafe") as till:
        zh, en = _both(till.post, "/v1/redemptions", json=ask)
        cents = till.post(
            "/v1/orders",
            json={"order_ref": "o-1", "member_id": member_id, "amount_fen": "100",
                  "paid_at": server.clock.now().isoformat()},
            headers=EN,
        )  # fmt: skip
        nowhere = _both(till.get, "/v1/no-such-path")
    _languages(zh, en)
    assert problem(en, 409, "points.insufficient")["detail"] == (
        "Not enough available points: 100 asked, 0 available."
    )
    assert problem(zh, 409, "points.insufficient")["detail"] == "可用积分不足：需要 100，可用 0"
    refused = problem(cents, 422, "request.invalid")["errors"]
    assert [(e["path"], e["type"]) for e in refused] == [("body.amount_fen", "int_type")]
    assert refused[0]["message"].startswith("must be a whole number of fen (分), at least 1")
    _languages(*nowhere)
    assert problem(nowhere[1], 404, "not_found")["detail"] == "There is no such path."
