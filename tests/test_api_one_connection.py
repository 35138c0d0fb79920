"""A unit of work reads and writes on one connection: no request ever holds a pooled connection
while it waits for a second one. Were it so, 20 parallel requests on a pool of 15 could each hold
one and wait forever for another. Here the server runs on a pool of exactly one connection and
every kind of write goes through it: a nested checkout would time out and fail the request."""

from __future__ import annotations

from sqlalchemy.pool import QueuePool

from alliance_http import CONSENTS, RULES, open_alliance_over_http
from api_server import served


def test_every_write_runs_on_a_single_pooled_connection(db_url: str) -> None:
    with served(db_url) as server:
        engine = server.ctx.engine
        old = engine.pool
        engine.pool = QueuePool(
            old._creator, pool_size=1, max_overflow=0, timeout=2, _dispatch=old.dispatch
        )
        old.dispose()
        a = open_alliance_over_http(server, {"cafe": "cafe", "books": "books"})  # drafts, publish,
        member = a.enrol("13800138000", via="cafe")  # onboarding; a merchant's enrolment
        a.order("cafe", "o-1", member, 300_000)
        a.release_all()  # jobs
        code = a.code(member)  # a member token, a code
        with a.merchant("books") as m:
            r = m.post(
                "/v1/redemptions",
                json={"code": code, "points": 100, "order_ref": "b", "order_amount_fen": 10_000},
            )
            assert r.status_code == 201, r.text
        with a.merchant("cafe") as m:
            r = m.post("/v1/orders/o-1/refunds", json={"refund_ref": "r", "refund_fen": 1_000})
            assert r.status_code == 200, r.text
            a.order("cafe", "o-2", member, 1_000)
            assert m.post("/v1/orders/o-2/cancel").status_code == 200
        with server.operator() as op:
            r = op.post("/v1/members", json={"phone": "13900139000", "consents": CONSENTS})
            assert r.status_code == 201, r.text
            r = op.post("/v1/merchants/books/status", json={"status": "suspended"})
            assert r.status_code == 200, r.text
            draft = op.post("/v1/rules/drafts", json={**RULES, "notice_days": 45}).json()["number"]
            r = op.post(
                f"/v1/rules/versions/{draft}/publish",
                json={"effective_at": "2026-05-01T00:00:00Z", "reason": "通知 notice"},
            )
            assert r.status_code == 200, r.text
            r = op.post(f"/v1/rules/versions/{draft}/withdraw", json={"reason": "撤回 withdrawn"})
            assert r.status_code == 200, r.text
