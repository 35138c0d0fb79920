"""The HTTP shell as a client and an operator meet it, over real HTTP on both stores: bad bodies,
body size, 405s, security and cache headers, request ids, and the OpenAPI document telling the
truth about every error an operation can answer.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from api_server import KYC, OPERATOR_KEY, Server, problem, served
from jifen.alliance.merchants import MerchantStatus
from jifen.api.limits import MAX_BODY_BYTES

CHINESE = re.compile(r"[\u4e00-\u9fff]")  # the default language, zh-CN (tests/test_i18n.py: en)
DRAFTS = "/v1/rules/drafts"


@pytest.fixture
def server(db_url: str) -> Iterator[Server]:
    with served(db_url) as running:
        yield running


def _drafts(server: Server) -> int:
    with server.operator() as op:
        return len(op.get("/v1/rules/versions").json())


# -- 9: unparseable and oversized bodies ------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000,  # nesting deeper than any parser's recursion
        b'{"notice_days": ' + b"9" * 100_000 + b"}",  # an int past Python's digit limit
        b"[" * 5_000 + b"]" * 5_000,  # deep but well formed
        b'{"title_zh": "\xff\xfe"}',  # not UTF-8
        b'{"notice_days": 30',  # cut short
    ],
    ids=["open-brackets", "huge-number", "deep-nesting", "bad-utf8", "truncated"],
)
def test_an_unparseable_body_is_request_invalid_and_writes_nothing(
    server: Server, body: bytes
) -> None:
    with server.operator() as op:
        r = op.post(DRAFTS, content=body, headers={"Content-Type": "application/json"})
    refusal = problem(r, 422, "request.invalid")
    assert CHINESE.search(refusal["detail"]), refusal
    assert _drafts(server) == 0


def test_a_body_over_the_limit_is_refused_before_it_is_read(server: Server) -> None:
    padded = b"{}" + b" " * (MAX_BODY_BYTES - 1)  # one byte over, valid JSON otherwise
    with server.operator() as op:
        declared = op.post(DRAFTS, content=padded, headers={"Content-Type": "application/json"})

        def chunks() -> Iterator[bytes]:  # no Content-Length: the server must count
            yield b"{}"
            for _ in range(MAX_BODY_BYTES // 65_536 + 1):
                yield b" " * 65_536

        streamed = op.post(DRAFTS, content=chunks(), headers={"Content-Type": "application/json"})
        # the limit holds where the route never reads a body, and where no route matches
        bodiless = op.post("/v1/members/nobody/tokens", content=padded)
        nowhere = op.post("/v1/no-such-path", content=padded)
    assert "content-length" not in streamed.request.headers
    for r in (declared, streamed, bodiless, nowhere):
        refusal = problem(r, 413, "request.too_large")
        assert CHINESE.search(refusal["detail"]) and str(MAX_BODY_BYTES) in refusal["detail"]
    assert _drafts(server) == 0
    with server.operator() as op:  # exactly at the limit is accepted
        r = op.post(DRAFTS, content=padded[:-1], headers={"Content-Type": "application/json"})
    assert r.status_code == 201, r.text
    assert _drafts(server) == 1


# -- 10: 405 names the allowed methods --------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("DELETE", "/v1/orders", {"GET", "POST"}),
        ("PUT", "/v1/merchants/cafe", {"GET"}),
        ("GET", "/v1/me/redemption-codes", {"POST"}),
    ],
)
def test_a_405_carries_the_allow_header(
    server: Server, method: str, path: str, allowed: set[str]
) -> None:
    with server.operator() as op:
        r = op.request(method, path)
    refusal = problem(r, 405, "method_not_allowed")
    assert CHINESE.search(refusal["detail"]), refusal
    assert {m.strip() for m in r.headers["allow"].split(",")} == allowed


def test_a_404_speaks_both_languages(server: Server) -> None:
    with server.client() as anonymous:
        refusal = problem(anonymous.get("/v1/no-such-thing"), 404, "not_found")
        english = anonymous.get("/v1/no-such-thing", headers={"Accept-Language": "en"})
    assert CHINESE.search(refusal["detail"]), refusal
    assert problem(english, 404, "not_found")["detail"] == "There is no such path."


# -- 12: security and cache headers ------------------------------------------------------------

SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}


def _onboard(server: Server) -> tuple[httpx.Response, str]:
    with server.operator() as op:
        r = op.post(
            "/v1/merchants",
            json={"merchant_id": "cafe", "name": "咖啡", "category": "cafe", "kyc": KYC},
        )
    assert r.status_code == 201, r.text
    return r, r.json()["api_key"]


def test_credentials_and_authenticated_answers_are_never_stored_by_caches(server: Server) -> None:
    onboarded, cafe_key = _onboard(server)
    with server.operator() as op:
        enrolled = op.post(
            "/v1/members",
            json={"phone": "13800138000", "consents": {"terms": True, "privacy": True}},
        )
        member_id = enrolled.json()["member_id"]
        token = op.post(f"/v1/members/{member_id}/tokens")
        merchants = op.get("/v1/merchants")
    with server.client(token.json()["token"]) as member:
        code = member.post("/v1/me/redemption-codes")
        account = member.get("/v1/me")
    with server.client(cafe_key) as cafe:
        mine = cafe.get("/v1/merchant")
    with server.client() as anonymous:
        refused = anonymous.get("/v1/merchants")
        missing = anonymous.get("/v1/public/rules/current")  # 409: no rules yet
        schema = anonymous.get("/v1/public/rules/schema")
        health = anonymous.get("/healthz")
    answers: dict[str, httpx.Response] = {
        "api key": onboarded, "member": enrolled, "token": token, "code": code,
        "operator read": merchants, "member read": account, "merchant read": mine,
        "401": refused, "409": missing,
    }  # fmt: skip
    assert token.json()["token"] and code.json()["code"]
    for what, r in answers.items():
        assert r.headers.get("cache-control") == "no-store", (what, r.status_code, r.headers)
    for r in (schema, health):  # public reads may be cached, but revalidated
        assert r.status_code == 200 and r.headers.get("cache-control") == "no-cache", r.headers
    for r in [*answers.values(), schema, health]:
        for name, value in SECURITY_HEADERS.items():
            assert r.headers.get(name) == value, (r.url, name, r.headers)
        csp = r.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp, csp


def test_the_docs_pages_get_a_policy_that_lets_them_load_and_nothing_else(server: Server) -> None:
    with server.client() as anonymous:
        pages = {p: anonymous.get(p) for p in ("/docs", "/redoc")}
    for path, r in pages.items():
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html"), path
        policy = r.headers["content-security-policy"]
        directives = (d.strip().split(" ", 1) for d in policy.split(";"))
        csp = {d[0]: d[1] if len(d) > 1 else "" for d in directives}
        assert csp["default-src"] == "'none'" and csp["frame-ancestors"] == "'none'", csp
        assert "'unsafe-eval'" not in r.headers["content-security-policy"]
        for src in re.findall(r'<script src="([^"]+)"', r.text):  # its scripts are allowed
            allowed = csp["script-src"].split()
            same_origin = src.startswith("/") and not src.startswith("//")
            assert (same_origin and "'self'" in allowed) or any(map(src.startswith, allowed)), csp
        for inline in re.findall(r"<script>(.*?)</script>", r.text, flags=re.S):
            digest = base64.b64encode(hashlib.sha256(inline.encode()).digest()).decode()
            assert f"'sha256-{digest}'" in csp["script-src"], csp  # inline code pinned by hash
        assert "'unsafe-inline'" not in csp["script-src"], csp
        assert "'self'" in csp["connect-src"], csp  # the page fetches /openapi.json
        assert r.headers["x-frame-options"] == "DENY"


# -- request ids -------------------------------------------------------------------------------


def test_a_valid_request_id_is_echoed_and_anything_else_replaced(server: Server) -> None:
    with server.client() as anonymous:
        kept = anonymous.get("/healthz", headers={"X-Request-Id": "till-42:abc.DEF_9-x"})
        made = [anonymous.get("/healthz") for _ in range(3)]
        bad = [
            anonymous.get("/healthz", headers={"X-Request-Id": value})
            for value in ("x" * 129, "has space", "semi;colon", "")
        ]
    assert kept.headers["x-request-id"] == "till-42:abc.DEF_9-x"
    generated = [r.headers["x-request-id"] for r in made + bad]
    assert len(set(generated)) == len(generated)
    for value in generated:
        assert re.fullmatch(r"[0-9a-f]{32}", value), value


# -- 11: the OpenAPI document is the API -------------------------------------------------------


def _document(server: Server) -> dict[str, Any]:
    with server.client() as anonymous:
        r = anonymous.get("/openapi.json")
    assert r.status_code == 200
    document: dict[str, Any] = r.json()
    return document


def _operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            yield method.upper(), path, operation


def test_every_error_is_documented_as_a_problem(server: Server) -> None:
    document = _document(server)
    assert "HTTPValidationError" not in document["components"]["schemas"]
    problem_ref = "#/components/schemas/Problem"
    for method, path, operation in _operations(document):
        responses = operation["responses"]
        errors = {int(s) for s in responses if s[0] in "45"}
        params = {p["in"] for p in operation.get("parameters", ())}
        names = {p["name"] for p in operation.get("parameters", ())}
        secured = bool(operation.get("security"))
        where = (method, path, sorted(errors))
        assert ({401, 403, 429} <= errors) == secured, where
        assert not secured or {401, 403, 429} <= errors, where
        if "Idempotency-Key" in names:
            assert {400, 409} <= errors, where
        if "path" in params:
            assert 404 in errors, where
        if "requestBody" in operation:
            assert {413, 422} <= errors, where
        if not secured and "requestBody" not in operation and not params - {"header"}:
            # a public read refuses only for its own reasons (no rules in force; no checkpoint yet)
            assert errors <= {404, 409, 503}, where
        for status in errors:
            content = responses[str(status)]["content"]
            assert list(content) == ["application/problem+json"], (where, status)
            schema = content["application/problem+json"]["schema"]
            assert schema == {"$ref": problem_ref} or (path, status) == ("/readyz", 503), where
        if 401 in errors:
            assert "WWW-Authenticate" in responses["401"]["headers"], where
        if 429 in errors:
            assert "Retry-After" in responses["429"]["headers"], where


LISTS = {
    "/v1/me/history": "HistoryPage",
    "/v1/orders": "OrderPage",
    "/v1/redemptions": "RedemptionPage",
    "/v1/statements": "StatementPage",
    "/v1/merchants": "MerchantPage",
    "/v1/public/checkpoints": "CheckpointPage",
}


def test_every_list_answers_the_one_page_shape_under_its_own_name(server: Server) -> None:
    """One generic page model (``jifen.api.schemas.Page``) behind every list; each list's page
    keeps the component name generated clients know it by, never pydantic's ``Page_OrderOut_``."""
    document = _document(server)
    schemas = document["components"]["schemas"]
    for path, name in LISTS.items():
        ok = document["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]
        assert ok["schema"] == {"$ref": f"#/components/schemas/{name}"}, path
        item = f"#/components/schemas/{name.removesuffix('Page')}Out"
        assert schemas[name]["properties"]["items"] == {
            "items": {"$ref": item}, "title": "Items", "type": "array"
        }, name  # fmt: skip
        assert schemas[name]["required"] == ["items", "next_cursor"], name
    assert [n for n in schemas if n.startswith("Page")] == []


def test_a_merchants_status_is_documented_as_the_services_enum(server: Server) -> None:
    schemas = _document(server)["components"]["schemas"]
    assert schemas["MerchantStatus"]["enum"] == [s.value for s in MerchantStatus]
    for model in ("MerchantOut", "StatusIn"):
        status = schemas[model]["properties"]["status"]
        assert status == {"$ref": "#/components/schemas/MerchantStatus"}, model


def test_operator_operations_document_their_not_founds_and_conflicts(server: Server) -> None:
    operations = {(m, p): op for m, p, op in _operations(_document(server))}
    for key, statuses in {
        ("GET", "/v1/merchants/{merchant_id}"): {404},
        ("POST", "/v1/merchants/{merchant_id}/status"): {404, 409},
        ("GET", "/v1/members/{member_id}"): {404},
        ("POST", "/v1/members/{member_id}/tokens"): {404},
        ("POST", "/v1/merchants"): {409},
        ("POST", "/v1/rules/versions/{number}/publish"): {404, 409, 422},
        ("POST", "/v1/jobs/run"): {409, 422},
    }.items():
        documented = {int(s) for s in operations[key]["responses"]}
        assert statuses <= documented, (key, sorted(documented))


def test_the_idempotency_key_is_documented_as_required_with_its_pattern(server: Server) -> None:
    for method, path, operation in _operations(_document(server)):
        for parameter in operation.get("parameters", ()):
            if parameter["name"] == "Idempotency-Key":
                assert parameter["required"] is True, (method, path)
                assert parameter["schema"]["pattern"], (method, path)


def test_jobs_run_accepts_an_absent_body_as_its_document_says(server: Server) -> None:
    with server.operator() as op:
        r = op.post("/v1/jobs/run")
    assert r.status_code == 200, r.text
    body = _document(server)["paths"]["/v1/jobs/run"]["post"].get("requestBody", {})
    assert not body.get("required", False)


def test_the_operator_key_never_appears_in_a_response(server: Server) -> None:
    with server.operator() as op:
        answers = [op.get(p) for p in ("/v1/merchants", "/v1/no-such", "/openapi.json")]
    for r in answers:
        assert OPERATOR_KEY not in r.text and OPERATOR_KEY not in str(r.headers)
