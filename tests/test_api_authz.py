"""Who may see and do what, over real HTTP: a refusal never tells a caller whether someone else's
thing exists, and every operation but the public ones needs credentials.

Two merchants (alpha, a cafe; beta, a cinema) and two members each with an order; each test gets
a fresh store and server. A forbidden look at another's order, account or statements must answer
exactly as a look at something that exists nowhere, and no refusal may name the other party.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import jwt
import pytest

from api_server import KYC, T0, ApiClient, Server, problem, served, without_instance

CONSENTS = {"terms": True, "privacy": True}
RULES = {"notice_days": 30, "redemption": {"min_points": 100}}


@dataclass
class Alliance:
    server: Server
    keys: dict[str, str]  # merchant id → API key
    members: list[str]  # member ids: [0] shops at alpha, [1] at beta
    tokens: list[str]
    refusals: list[dict[str, Any]] = field(default_factory=list)

    def refused(self, r: httpx.Response, status: int, code: str) -> dict[str, Any]:
        """A problem with ``status`` and ``code``, kept to check later that it names no one else."""
        body = problem(r, status, code)
        self.refusals.append(without_instance(body))
        return body


def _seed(server: Server) -> Alliance:
    with server.operator() as op:
        assert op.post("/v1/rules/drafts", json=RULES).status_code == 201
        r = op.post(
            "/v1/rules/versions/1/publish",
            json={"effective_at": T0.isoformat(), "reason": "launch"},
        )
        assert r.status_code == 200, r.text
        keys = {}
        for merchant_id, category in (("alpha", "cafe"), ("beta", "cinema")):
            r = op.post(
                "/v1/merchants",
                json={
                    "merchant_id": merchant_id,
                    "name": merchant_id,
                    "category": category,
                    "kyc": KYC,
                },
            )
            assert r.status_code == 201, r.text
            keys[merchant_id] = r.json()["api_key"]
        members, tokens = [], []
        for phone in ("13800138000", "13900139000"):
            r = op.post("/v1/members", json={"phone": phone, "consents": CONSENTS})
            assert r.status_code == 201, r.text
            members.append(r.json()["member_id"])
            r = op.post(f"/v1/members/{members[-1]}/tokens")
            assert r.status_code == 201, r.text
            tokens.append(r.json()["token"])
    for (merchant_id, ref), member_id in zip(
        (("alpha", "a-1"), ("beta", "b-1")), members, strict=True
    ):
        with server.client(keys[merchant_id]) as m:
            r = m.post(
                "/v1/orders",
                json={
                    "order_ref": ref,
                    "member_id": member_id,
                    "amount_fen": 50_000,
                    "paid_at": T0.isoformat(),
                },
            )
            assert r.status_code == 201 and r.json()["points"] > 0, r.text
    return Alliance(server, keys, members, tokens)


@pytest.fixture
def alliance(db_url: str) -> Iterator[Alliance]:
    with served(db_url) as server:
        seeded = _seed(server)
        yield seeded
        for body in seeded.refusals:  # beta and member 0 are never told of alpha or a member id
            for name in ("alpha", *seeded.members):
                assert name not in str(body), body


def test_a_merchant_cannot_touch_another_merchants_order_and_cannot_tell_it_exists(
    alliance: Alliance,
) -> None:
    server = alliance.server
    with (
        server.client(alliance.keys["beta"]) as beta,
        server.client(alliance.keys["alpha"]) as alpha,
    ):
        for method, suffix, body in (
            ("GET", "", None),
            ("POST", "/refunds", {"refund_ref": "rf-1", "refund_fen": 100}),
            ("POST", "/cancel", None),
        ):
            theirs, nowhere = (
                alliance.refused(
                    beta.request(method, f"/v1/orders/{ref}{suffix}", json=body),
                    404,
                    "order.not_found",
                )
                for ref in ("a-1", "nowhere-1")
            )
            assert without_instance(theirs) == without_instance(nowhere)
        listed = beta.get("/v1/orders").json()["items"]
        assert [o["order_ref"] for o in listed] == ["b-1"]
        order = alpha.get("/v1/orders/a-1").json()  # untouched by beta's attempts
        assert (order["status"], order["refunded_fen"]) == ("pending", 0)
        assert [o["order_ref"] for o in alpha.get("/v1/orders").json()["items"]] == ["a-1"]


def test_a_merchant_sees_only_its_own_statements(alliance: Alliance) -> None:
    server = alliance.server
    server.set_clock(T0 + timedelta(days=1))
    with server.operator() as op:
        assert op.post("/v1/jobs/run", json={}).status_code == 200
        everyone = op.get("/v1/statements").json()["items"]
        assert {s["merchant_id"] for s in everyone} == {"alpha", "beta"}
    with server.client(alliance.keys["beta"]) as beta:
        theirs, nowhere = (
            alliance.refused(
                beta.get("/v1/statements", params={"merchant_id": m}), 403, "auth.forbidden"
            )
            for m in ("alpha", "zeta")
        )
        assert without_instance(theirs) == without_instance(nowhere)
        own = beta.get("/v1/statements").json()["items"]
        assert own and {s["merchant_id"] for s in own} == {"beta"}
        assert beta.get("/v1/statements", params={"merchant_id": "beta"}).json()["items"] == own
        # nor through the operator's endpoints
        for path in ("/v1/merchants/alpha", f"/v1/members/{alliance.members[0]}/account"):
            alliance.refused(beta.get(path), 403, "auth.forbidden")


def test_a_member_sees_only_their_own_account(alliance: Alliance) -> None:
    server = alliance.server
    me, other = alliance.members
    with server.client(alliance.tokens[0]) as member:
        theirs, nowhere = (
            alliance.refused(member.get(f"/v1/members/{m}/account"), 403, "auth.forbidden")
            for m in (other, "m000000000000000")
        )
        assert without_instance(theirs) == without_instance(nowhere)
        mine = member.get("/v1/me")
        assert mine.status_code == 200 and mine.json()["member_id"] == me
        assert other not in mine.text
        assert member.get("/v1/me/profile").json()["member_id"] == me
        history = member.get("/v1/me/history").json()["items"]
        assert [h["order_ref"] for h in history] == ["a-1"]
        # a member token opens no merchant or operator door
        for method, path, body in (
            ("GET", "/v1/merchant", None),
            ("GET", "/v1/orders", None),
            ("GET", "/v1/orders/a-1", None),
            ("GET", "/v1/orders/b-1", None),
            (
                "POST",
                "/v1/orders",
                {"order_ref": "x-1", "member_id": me, "amount_fen": 100, "paid_at": T0.isoformat()},
            ),
            ("POST", "/v1/orders/a-1/refunds", {"refund_ref": "rf-1", "refund_fen": 100}),
            ("POST", "/v1/orders/a-1/cancel", None),
            ("GET", "/v1/redemptions", None),
            (
                "POST",
                "/v1/redemptions",
                {"code": "0" * 18, "points": 100, "order_ref": "x-1", "order_amount_fen": 1000},
            ),
            ("GET", "/v1/statements", None),
            ("GET", "/v1/merchants", None),
            ("GET", f"/v1/members/{me}", None),
            ("POST", "/v1/members", {"phone": "13700137000", "consents": CONSENTS}),
            ("POST", f"/v1/members/{other}/tokens", None),
            ("GET", "/v1/reports/liabilities", None),
            ("POST", "/v1/jobs/run", {}),
            ("PUT", "/v1/clock", {"now": T0.isoformat()}),
            ("POST", "/v1/checkpoints", None),
        ):
            alliance.refused(member.request(method, path, json=body), 403, "auth.forbidden")
    with server.client(alliance.tokens[1]) as member:
        assert member.get("/v1/me").json()["member_id"] == other


def _dummy_path(path: str, operation: dict[str, Any]) -> str:
    for param in operation.get("parameters", []):
        if param["in"] == "path":
            dummy = "1" if param.get("schema", {}).get("type") == "integer" else "dummy-1"
            path = path.replace("{" + param["name"] + "}", dummy)
    assert "{" not in path, path
    return path


def _operations(server: Server) -> list[tuple[str, str, dict[str, Any]]]:
    with server.client() as anonymous:
        document = anonymous.get("/openapi.json")
    assert document.status_code == 200
    return [
        (method.upper(), path, operation)
        for path, item in document.json()["paths"].items()
        for method, operation in item.items()
        if method in ("get", "post", "put", "patch", "delete")
    ]


def test_every_operation_but_the_public_ones_needs_credentials(alliance: Alliance) -> None:
    server = alliance.server
    operations = _operations(server)
    # the provider's callback carries no bearer: its signature is its credential (a callback
    # that does not verify is payment.notification_refused, tests/test_api_payments.py)
    signed = [op for op in operations if op[1].startswith("/v1/providers/")]
    assert signed == [("POST", "/v1/providers/{provider}/notify", signed[0][2])]
    guarded = [
        op
        for op in operations
        if not op[1].startswith(("/v1/public/", "/healthz", "/readyz")) and op not in signed
    ]
    public = [op for op in operations if op not in guarded and op not in signed]
    assert len(guarded) >= 20 and len(public) >= 5, (len(guarded), len(public))
    # the clock is hidden from the document, but guarded all the same
    guarded.append(("PUT", "/v1/clock", {}))
    with server.operator() as op:  # a checkpoint, so the public ones that read one answer 200
        assert op.post("/v1/checkpoints").status_code == 201
    with server.client() as anonymous:
        for method, path, operation in guarded:
            body = {} if method != "GET" else None
            r = anonymous.request(method, _dummy_path(path, operation), json=body)
            problem(r, 401, "auth.required")
            assert r.headers.get("www-authenticate") == "Bearer", (method, path)
        for method, path, operation in public:
            r = anonymous.request(method, _dummy_path(path, operation))
            assert r.status_code == 200, (method, path, r.text)


def test_a_bad_credential_is_refused_with_401(alliance: Alliance) -> None:
    server = alliance.server
    forged = jwt.encode(
        {"sub": alliance.members[0], "role": "member", "iat": T0, "exp": T0 + timedelta(hours=1)},
        "not-the-secret-but-long-enough-for-hs256",
        algorithm="HS256",
    )
    with server.operator() as op:
        r = op.post("/v1/merchants/alpha/status", json={"status": "closed"})
        assert r.status_code == 200, r.text
    for token, code in (
        ("garbage", "auth.invalid_token"),
        ("jfm_alpha_forged-key", "auth.required"),
        ("jfo_" + "x" * 43, "auth.required"),
        (alliance.keys["alpha"], "auth.required"),  # alpha was closed: its key is revoked
        (forged, "auth.invalid_token"),
    ):
        with server.client(token) as caller:
            for path in ("/v1/me", "/v1/orders", "/v1/merchants"):
                r = caller.get(path)
                problem(r, 401, code)
                assert r.headers.get("www-authenticate") == "Bearer"
    answers = []
    for token in ("jfm_alpha_forged-key", "jfm_zeta_forged-key"):  # a key names no merchant
        with server.client(token) as caller:
            answers.append(
                without_instance(problem(caller.get("/v1/orders"), 401, "auth.required"))
            )
    assert answers[0] == answers[1]
    with ApiClient(base_url=server.base_url, headers={"Authorization": "Basic dXNlcjpwYXNz"}) as c:
        problem(c.get("/v1/orders"), 401, "auth.required")
    with server.client(alliance.keys["beta"]) as beta:  # a live key still works
        assert beta.get("/v1/merchant").json()["merchant_id"] == "beta"


def test_idempotency_keys_are_per_caller_so_no_one_replays_anothers_response(
    alliance: Alliance,
) -> None:
    server = alliance.server
    same_key = {"Idempotency-Key": "shared-key-1"}
    codes = []
    for token in alliance.tokens:
        with server.client(token) as member:
            r = member.post("/v1/me/redemption-codes", headers=same_key)
            assert r.status_code == 201, r.text
            assert "Idempotent-Replayed" not in r.headers
            codes.append(r.json()["code"])
    assert codes[0] != codes[1]
    order = {"order_ref": "same-1", "member_id": alliance.members[1], "amount_fen": 10_000}
    order["paid_at"] = T0.isoformat()
    for merchant_id in ("alpha", "beta"):
        with server.client(alliance.keys[merchant_id]) as merchant:
            r = merchant.post("/v1/orders", json=order, headers=same_key)
            assert r.status_code == 201 and "Idempotent-Replayed" not in r.headers, r.text
            assert merchant.get("/v1/orders/same-1").status_code == 200
    with server.client(alliance.tokens[1]) as member:  # two orders, so two pending lots
        lots = member.get("/v1/me").json()["pending_lots"]
    assert sorted((x["merchant_id"], x["order_ref"]) for x in lots) == [
        ("alpha", "same-1"), ("beta", "b-1"), ("beta", "same-1"),
    ]  # fmt: skip
