"""Issue 8, defects 3, 6, 8, 13, 14, 19 and 20, through the real HTTP server on both stores:
what a careless or hostile integrator sends is refused clearly, and what a member reads is
true at the instant they read it."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from typing import Any

import pytest

from alliance_http import CONSENTS, RULES, open_alliance_over_http, order_body
from api_server import problem, served


def _cursor(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


def test_one_phone_is_one_member_whatever_digits_it_was_typed_with(db_url: str) -> None:
    with served(db_url) as server, server.operator() as op:
        first = op.post("/v1/members", json={"phone": "13344445555", "consents": CONSENTS})
        assert first.status_code == 201, first.text
        # full-width digits (a Chinese keyboard) are the same number: NFKC first
        wide = op.post("/v1/members", json={"phone": "1334444555５", "consents": CONSENTS})
        assert wide.status_code == 201 and wide.json()["member_id"] == first.json()["member_id"]
        # digits of other scripts are not ASCII digits: refused, never a new member
        for phone in ("13٣4444555٥", "1334444555৫", "１３３４４４４５５５٥"):
            r = op.post("/v1/members", json={"phone": phone, "consents": CONSENTS})
            problem(r, 422, "request.invalid")
        with server.ctx.engine.connect() as conn:
            from sqlalchemy import func, select

            from jifen.store import tables as t

            assert conn.execute(select(func.count()).select_from(t.members)).scalar_one() == 1


@pytest.mark.parametrize("bad", ["100", 100.0, True, "１００", 1e3])
def test_money_and_points_are_strict_integers(db_url: str, bad: Any) -> None:
    with served(db_url) as server:
        a = open_alliance_over_http(server, {"cafe": "cafe", "books": "books"})
        member = a.enrol("13800138000")
        a.order("cafe", "o-1", member, 300_000)
        a.release_all()
        code = a.code(member)
        with a.merchant("cafe") as m:
            r = m.post("/v1/orders", json=order_body("o-2", member, bad, a))
            assert problem(r, 422, "request.invalid")["errors"][0]["path"] == "body.amount_fen"
            r = m.post("/v1/orders/o-1/refunds", json={"refund_ref": "r-1", "refund_fen": bad})
            assert problem(r, 422, "request.invalid")["errors"][0]["path"] == "body.refund_fen"
        redemption = {"code": code, "points": 100, "order_ref": "b", "order_amount_fen": 10_000}
        with a.merchant("books") as m:
            for field in ("points", "order_amount_fen"):
                r = m.post("/v1/redemptions", json={**redemption, field: bad})
                assert problem(r, 422, "request.invalid")["errors"][0]["path"] == f"body.{field}"
            # nothing was written by any of them: the code is still good for a proper request
            assert m.post("/v1/redemptions", json=redemption).status_code == 201


@pytest.mark.parametrize(
    "path",
    ["/v1/merchants", "/v1/statements", "/v1/orders", "/v1/redemptions", "/v1/me/history"],
)
def test_every_list_refuses_a_cursor_it_did_not_hand_out(db_url: str, path: str) -> None:
    with served(db_url) as server:
        a = open_alliance_over_http(server, {"cafe": "cafe"})
        member = a.enrol("13800138000")
        client = {
            "/v1/merchants": server.operator,
            "/v1/statements": server.operator,
            "/v1/orders": lambda: a.merchant("cafe"),
            "/v1/redemptions": lambda: a.merchant("cafe"),
            "/v1/me/history": lambda: a.member(member),
        }[path]()
        tampered = [
            _cursor([]),  # W10
            _cursor([1, 2]),
            _cursor([1]),
            _cursor(["2026-03-01T00:00:00", "id"]),  # a time without a zone
            _cursor(["2026-03-01T00:00:00+00:00", "id", 0, "extra"]),
            _cursor({"a": 1}),
            _cursor([None, None]),
            _cursor([True, "x"]),
            "not base64 at all!",
            "A" * 600,
        ]
        if path != "/v1/merchants":  # merchants are paged by id alone: ["x"] means "after x"
            tampered.append(_cursor(["x"]))
        with client:
            for cursor in tampered:
                r = client.get(path, params={"cursor": cursor})
                problem(r, 422, "request.invalid")
            assert client.get(path).status_code == 200


def test_lists_page_through_with_the_cursors_they_hand_out(db_url: str) -> None:
    with served(db_url) as server:
        a = open_alliance_over_http(server, {f"m{i}": "cafe" for i in range(5)})
        member = a.enrol("13800138000")
        for i in range(5):
            a.order("m0", f"o-{i}", member, 1_000 * (i + 1))
        seen: dict[str, list[str]] = {}
        for path, client, key in (
            ("/v1/merchants", server.operator(), "merchant_id"),
            ("/v1/orders", a.merchant("m0"), "order_ref"),
            ("/v1/me/history", a.member(member), "entry_id"),
        ):
            items, cursor = [], None
            with client:
                while True:
                    params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
                    page = client.get(path, params=params).json()
                    items += [x[key] for x in page["items"]]
                    cursor = page["next_cursor"]
                    if cursor is None:
                        break
            seen[path] = items
        assert seen["/v1/merchants"] == [f"m{i}" for i in range(5)]
        # paid at one instant: newest first, ties by id; every order once
        assert sorted(seen["/v1/orders"]) == [f"o-{i}" for i in range(5)]
        assert len(set(seen["/v1/me/history"])) == 5


def test_a_merchant_learns_nothing_from_enrolling_a_phone_and_must_be_active(db_url: str) -> None:
    with served(db_url) as server:
        a = open_alliance_over_http(server, {"cafe": "cafe", "books": "books"})
        with server.operator() as op:
            known = op.post(
                "/v1/members",
                json={"phone": "13800138000", "consents": {**CONSENTS, "marketing": True}},
            )
        with a.merchant("cafe") as m:
            existing = m.post("/v1/members", json={"phone": "13800138000", "consents": CONSENTS})
            fresh = m.post("/v1/members", json={"phone": "13900139000", "consents": CONSENTS})
        assert existing.status_code == fresh.status_code == 201
        # the same shape and the same nothing-more for a member of years and a new one
        for r in (existing, fresh):
            assert set(r.json()) == {"member_id", "phone_masked", "created_at", "consents"}
            assert r.json()["created_at"] is None and r.json()["consents"] is None
        assert existing.json()["member_id"] == known.json()["member_id"]
        # the operator sees the member's record as it is (the merchant's consents changed nothing)
        with server.operator() as op:
            record = op.get(f"/v1/members/{known.json()['member_id']}").json()
        assert record["consents"]["marketing"] is True
        with server.operator() as op:
            r = op.post("/v1/merchants/books/status", json={"status": "suspended"})
            assert r.status_code == 200, r.text
        with a.merchant("books") as m:
            r = m.post("/v1/members", json={"phone": "13700137000", "consents": CONSENTS})
        problem(r, 403, "merchant.inactive")


def test_points_are_unusable_from_the_instant_they_expire(db_url: str) -> None:
    with served(db_url) as server:
        a = open_alliance_over_http(server, {"cafe": "cafe", "books": "books"})
        member = a.enrol("13800138000")
        lot = a.order("cafe", "o-1", member, 100_000)
        a.release_all()
        expires_at = lot["expires_at"]
        code = a.code(member)
        # the clock passes the expiry; the daily job has not burnt the lot yet
        from datetime import datetime

        server.set_clock(datetime.fromisoformat(expires_at))
        with a.member(member) as me:
            account = me.get("/v1/me").json()
        assert account["available"] == 0 and account["expiring_soon"] == []
        code = a.code(member)
        with a.merchant("books") as m:
            r = m.post(
                "/v1/redemptions",
                json={"code": code, "points": 100, "order_ref": "b", "order_amount_fen": 10_000},
            )
        problem(r, 409, "points.insufficient")
        # a refund now takes nothing back from points that are gone already
        with a.merchant("cafe") as m:
            r = m.post("/v1/orders/o-1/refunds", json={"refund_ref": "r", "refund_fen": 50_000})
        assert r.status_code == 200 and r.json()["credited_fen"] == 0, r.text


def test_a_member_who_never_had_points_is_told_so_when_redeeming(db_url: str) -> None:
    with served(db_url) as server:
        a = open_alliance_over_http(server, {"books": "books"})
        member = a.enrol("13800138000")
        code = a.code(member)
        with a.merchant("books") as m:
            r = m.post(
                "/v1/redemptions",
                json={"code": code, "points": 100, "order_ref": "b", "order_amount_fen": 10_000},
            )
        problem(r, 409, "points.insufficient")


def test_history_keeps_the_lifecycle_order_at_one_instant_and_names_every_rule(
    db_url: str,
) -> None:
    rules = {**RULES, "pending": {"return_window_days": 0}}
    with served(db_url) as server:
        a = open_alliance_over_http(server, {"cafe": "cafe", "books": "books"}, rules)
        member = a.enrol("13800138000")
        # on a clock that stands still: earn, release, redeem, refund, all at one instant
        a.order("cafe", "o-1", member, 100_000)
        server.set_clock(server.clock.now() + timedelta(days=1))
        with server.operator() as op:
            assert op.post("/v1/jobs/run", json={}).status_code == 200
        code = a.code(member)
        with a.merchant("books") as m:
            r = m.post(
                "/v1/redemptions",
                json={"code": code, "points": 100, "order_ref": "b", "order_amount_fen": 10_000},
            )
            assert r.status_code == 201, r.text
        with a.merchant("cafe") as m:
            r = m.post("/v1/orders/o-1/refunds", json={"refund_ref": "r", "refund_fen": 10_000})
            assert r.status_code == 200, r.text
        with a.member(member) as me:
            lines = me.get("/v1/me/history").json()["items"]
            one_by_one = [
                me.get("/v1/me/history", params={"limit": 1, "cursor": c}).json() for c in [None]
            ]
        assert [line["kind"] for line in lines] == ["refund", "redeem", "release", "earn"]
        assert all(line["rule_version"] == 1 for line in lines), lines
        assert one_by_one[0]["items"][0]["kind"] == "refund"
