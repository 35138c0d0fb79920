"""Issue 8, defects 1, 2 and 7: one key means one write, and the rules' limits hold, however many
requests arrive together. Each test fires its requests at the same instant (>= 20 threads, each
on its own connection) through the real HTTP server, on SQLite and PostgreSQL, then checks the
store itself."""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import func, select

from alliance_http import RULES, open_alliance_over_http, order_body, post, together
from api_server import KYC, problem, served
from jifen.ledger import _tables as lt
from jifen.store import tables as t

N = 20


def _count(server: Any, table: Any) -> int:
    with server.ctx.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_parallel_drafts_with_one_key_and_one_body_draft_once(db_url: str) -> None:
    with served(db_url) as server:
        headers = {"Idempotency-Key": "draft-v1"}
        answers = together([post(server.operator, "/v1/rules/drafts", json=RULES,
                                 headers=headers)] * N)  # fmt: skip
        assert {r.status_code for r in answers} == {201}
        assert {r.json()["number"] for r in answers} == {1}
        assert sum(r.headers.get("Idempotent-Replayed") == "true" for r in answers) == N - 1
        assert _count(server, t.rule_versions) == 1


def test_parallel_orders_with_one_key_and_different_bodies_record_one_order(db_url: str) -> None:
    with served(db_url) as server:
        a = open_alliance_over_http(server, {"cafe": "cafe"})
        member = a.enrol("13800138000")
        headers = {"Idempotency-Key": "till-7-sale-1"}
        calls = [
            post(lambda: a.merchant("cafe"), "/v1/orders", headers=headers,
                 json=order_body(f"sale-{i}", member, 1_000 + i, a))
            for i in range(N)
        ]  # fmt: skip
        answers = together(calls)
        statuses = Counter(r.status_code for r in answers)
        assert statuses == {201: 1, 409: N - 1}, statuses
        for r in answers:
            if r.status_code == 409:
                problem(r, 409, "idempotency.conflict")
        assert _count(server, lt.lots) == 1


def test_parallel_onboarding_with_one_key_answers_the_stored_merchant(db_url: str) -> None:
    with served(db_url) as server:
        body = {"merchant_id": "tea", "name": "茶馆", "category": "cafe", "kyc": KYC}
        headers = {"Idempotency-Key": "onboard-tea"}
        answers = together([post(server.operator, "/v1/merchants", json=body,
                                 headers=headers)] * N)  # fmt: skip
        assert {r.status_code for r in answers} == {201}, [r.text for r in answers]
        assert {r.json()["merchant"]["merchant_id"] for r in answers} == {"tea"}
        # the key is shown once: the first answer carries it, every replay has it null
        assert sum(r.json()["api_key"] is not None for r in answers) == 1
        assert _count(server, t.merchants) == 1
        with server.ctx.engine.connect() as conn:
            keys = conn.execute(
                select(func.count()).where(t.api_keys.c.merchant_id == "tea")
            ).scalar_one()
        assert keys == 1


def test_parallel_orders_of_one_member_never_earn_past_the_daily_cap(db_url: str) -> None:
    rules = {**RULES, "earn": {"points_per_yuan": 1, "max_points_per_member_per_day": 20_000}}
    with served(db_url) as server:
        a = open_alliance_over_http(server, {"cafe": "cafe", "books": "books"}, rules)
        member = a.enrol("13800138000")
        calls = [
            post(lambda m=m: a.merchant(m), "/v1/orders",
                 json=order_body(f"big-{i}", member, 150_000, a))  # 1,500 points each
            for i, m in enumerate(["cafe", "books"] * (N // 2))
        ]  # fmt: skip
        answers = together(calls)
        assert {r.status_code for r in answers} == {201}, [r.text for r in answers]
        earned = [r.json()["points"] for r in answers]
        assert sum(earned) == 20_000  # 13 × 1,500 + one capped at 500, the rest earn nothing
        assert sorted(earned, reverse=True)[:14] == [1_500] * 13 + [500]
        capped = [r.json() for r in answers if r.json()["points"] < 1_500]
        assert {o["capped_by"] for o in capped} == {"per_member_per_day"}
        with server.ctx.engine.connect() as conn:
            issued = conn.execute(
                select(func.sum(lt.lots.c.points)).where(lt.lots.c.member_id == member)
            ).scalar_one()
        assert issued == 20_000


def test_redemptions_on_one_order_together_stay_within_its_share(db_url: str) -> None:
    """50% of a ¥100 order may be paid with points (5,000 points at 1 fen): however many codes
    are presented for the order, together or one after another, they pay at most that."""
    with served(db_url) as server:
        a = open_alliance_over_http(server, {"cafe": "cafe", "books": "books"})
        members = [a.enrol(f"1380013{8000 + i:04d}") for i in range(N)]
        for i, member in enumerate(members):
            a.order("cafe", f"earn-{i}", member, 300_000)
        a.release_all()
        codes = [a.code(m) for m in members]
        body = {"points": 1_000, "order_ref": "bill-1", "order_amount_fen": 10_000}
        answers = together(
            [post(lambda: a.merchant("books"), "/v1/redemptions", json={**body, "code": c})
             for c in codes]
        )  # fmt: skip
        statuses = Counter(r.status_code for r in answers)
        assert statuses == {201: 5, 422: N - 5}, statuses
        for r in answers:
            if r.status_code == 422:
                problem(r, 422, "redemption.over_order_share")
        # one after another it is the same: the order's share is used up
        late = a.code(members[0])
        with a.merchant("books") as m:
            r = m.post("/v1/redemptions", json={**body, "points": 1, "code": late})
        problem(r, 422, "redemption.over_order_share")
        # and another order of the same merchant is untouched by this one
        with a.merchant("books") as m:
            r = m.post("/v1/redemptions", json={**body, "order_ref": "bill-2", "code": late})
        assert r.status_code == 201, r.text


def test_a_code_retried_with_another_order_amount_is_a_conflict_not_the_first_redemption(
    db_url: str,
) -> None:
    with served(db_url) as server:
        a = open_alliance_over_http(server, {"cafe": "cafe", "books": "books"})
        member = a.enrol("13800138000")
        a.order("cafe", "earn-1", member, 100_000)
        a.release_all()
        code = a.code(member)
        body = {"code": code, "points": 400, "order_ref": "bill-9", "order_amount_fen": 1_000}
        with a.merchant("books") as m:
            first = m.post("/v1/redemptions", json=body)
            assert first.status_code == 201, first.text
            # a retry under a new Idempotency-Key with the same body: the same redemption
            same = m.post("/v1/redemptions", json=body)
            assert (same.status_code, same.json()) == (201, first.json())
            # another order amount is another redemption: the code is spent
            other = m.post("/v1/redemptions", json={**body, "order_amount_fen": 1_000_000})
            problem(other, 409, "redemption.code_used")
            # and the same Idempotency-Key with another body is the API's own conflict
            keyed = {"Idempotency-Key": "redeem-bill-9"}
            assert m.post("/v1/redemptions", json=body, headers=keyed).status_code == 201
            r = m.post("/v1/redemptions", json={**body, "order_amount_fen": 999}, headers=keyed)
            problem(r, 409, "idempotency.conflict")
        with server.ctx.engine.connect() as conn:
            spent = conn.execute(
                select(func.count()).where(lt.entries.c.kind == "redeem")
            ).scalar_one()
        assert spent == 1
