"""The rule lifecycle and incoming times over real HTTP, on every store (issue 8, defects 4 and 5).

A far-future effective date used to block every later change for good; now it is bounded by the
horizon, and an announced version that has not taken effect can be withdrawn. A time at the edge
of the calendar used to answer 500 and cost the client its keep-alive connection; now every
incoming time outside the supported range is a 422 ``request.invalid`` naming the field, and the
connection goes on serving.
"""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from api_server import KYC, T0, ApiClient, Server, problem, served
from jifen.rules import MAX_EFFECTIVE_HORIZON_DAYS
from jifen.store import tables as t

CONCURRENT = 20
THREAD_TIMEOUT_S = 60.0
V1: dict[str, Any] = {"notice_days": 30}
V2: dict[str, Any] = {"notice_days": 30, "earn": {"points_per_yuan": 2}}
V3: dict[str, Any] = {"notice_days": 30, "earn": {"points_per_yuan": 3}}
CJK = re.compile(r"[\u4e00-\u9fff]")

# Times no store or clock can hold: each is refused at the door, whichever field carries it.
EDGE_TIMES = [
    "9999-12-31T23:59:59-14:00",  # past year 9999 once converted to UTC: OverflowError before
    "0001-01-01T00:00:00+14:00",  # before year 1 once converted to UTC
    "9999-12-31T23:59:59Z",  # convertible, but far outside the supported range
    "2200-01-01T00:00:00Z",  # the first instant after the supported range
    "1999-12-31T23:59:59Z",  # the last instant before it
    "2000-01-01T07:59:59+08:00",  # the same instant as the line above, written in Shanghai time
    "2026-03-02T10:00:00",  # no zone
]


def _draft(op: ApiClient, document: dict[str, Any]) -> int:
    r = op.post("/v1/rules/drafts", json=document)
    assert r.status_code == 201, r.text
    return int(r.json()["number"])


def _publish(op: ApiClient, number: int, effective_at: datetime | str, reason: str) -> Any:
    when = effective_at if isinstance(effective_at, str) else effective_at.isoformat()
    return op.post(
        f"/v1/rules/versions/{number}/publish", json={"effective_at": when, "reason": reason}
    )


def _withdraw(op: ApiClient, number: int, reason: str = "日期有误 / wrong date", **kw: Any) -> Any:
    return op.post(f"/v1/rules/versions/{number}/withdraw", json={"reason": reason}, **kw)


def _statuses(versions: list[dict[str, Any]]) -> list[tuple[int, str]]:
    return [(v["number"], v["status"]) for v in versions]


def _launch(op: ApiClient) -> None:
    assert _draft(op, V1) == 1
    r = _publish(op, 1, T0, "开业 / launch")
    assert r.status_code == 200, r.text


def _local_port(r: httpx.Response) -> int:
    """The client's port of the TCP connection that carried ``r``: equal ports, same connection."""
    return int(r.extensions["network_stream"].get_extra_info("client_addr")[1])


# -- defect 4: the horizon and withdrawal --------------------------------------------------------


def test_an_effective_time_beyond_the_horizon_is_refused_and_the_horizon_itself_is_allowed(
    db_url: str,
) -> None:
    with served(db_url) as server, server.operator() as op:
        _launch(op)
        v2 = _draft(op, V2)
        horizon = T0 + timedelta(days=MAX_EFFECTIVE_HORIZON_DAYS)
        body = problem(
            _publish(op, v2, horizon + timedelta(seconds=1), "明年 / next year"),
            422,
            "rules.effective_too_far",
        )
        assert str(MAX_EFFECTIVE_HORIZON_DAYS) in body["detail"] and CJK.search(body["detail"])
        assert op.get("/v1/public/rules/upcoming").json() == []  # nothing was written
        r = _publish(op, v2, horizon, "明年 / next year")
        assert r.status_code == 200, r.text
        assert datetime.fromisoformat(r.json()["effective_at"]) == horizon


def test_a_far_version_once_withdrawn_no_longer_blocks_the_next_change(db_url: str) -> None:
    with served(db_url) as server, server.operator() as op:
        _launch(op)
        far = T0 + timedelta(days=300)
        v2 = _draft(op, V2)
        assert _publish(op, v2, far, "双倍积分 / double points").status_code == 200
        # the same terms, drafted again to announce them for a sooner date
        v3 = _draft(op, V2)
        assert op.get("/v1/rules/versions").json()[v3 - 1]["diff"] == ""  # identical to v2
        problem(
            _publish(op, v3, T0 + timedelta(days=30), "提前 / sooner"), 409, "rules.effective_order"
        )

        server.clock.advance(timedelta(hours=1))
        r = _withdraw(op, v2, "日期有误，改为下月 / wrong date, next month instead")
        assert r.status_code == 200, r.text
        withdrawn = r.json()
        assert withdrawn["status"] == "withdrawn"
        assert datetime.fromisoformat(withdrawn["withdrawn_at"]) == T0 + timedelta(hours=1)
        assert withdrawn["withdraw_reason"] == "日期有误，改为下月 / wrong date, next month instead"
        assert datetime.fromisoformat(withdrawn["effective_at"]) == far  # what was announced

        public = server.client()
        assert public.get("/v1/public/rules/upcoming").json() == []
        history = public.get("/v1/public/rules/history").json()
        assert _statuses(history) == [(1, "effective"), (2, "withdrawn")]
        assert history[1]["withdraw_reason"] == withdrawn["withdraw_reason"]
        assert history[1]["withdrawn_at"] == withdrawn["withdrawn_at"]
        assert history[0]["withdrawn_at"] is None and history[0]["withdraw_reason"] is None
        # the waiting draft's diff is now against version 1, the latest one still announced
        drafts = op.get("/v1/rules/versions").json()
        assert drafts[v3 - 1]["diff"] == "earn.points_per_yuan: 1 → 2"

        # the withdrawn version binds nothing: not the order of effective dates, not "unchanged"
        soon = T0 + timedelta(days=31)
        r = _publish(op, v3, soon, "下月起双倍积分 / double points from next month")
        assert r.status_code == 200, r.text
        assert r.json()["diff"] == "earn.points_per_yuan: 1 → 2"
        assert _statuses(public.get("/v1/public/rules/upcoming").json()) == [(v3, "published")]

        # and it never takes effect, not even once its date has passed
        server.set_clock(far + timedelta(days=1))
        assert public.get("/v1/public/rules/current").json()["number"] == v3
        history = public.get("/v1/public/rules/history").json()
        assert _statuses(history) == [(1, "superseded"), (2, "withdrawn"), (3, "effective")]
        public.close()


def test_a_store_blocked_by_a_version_at_the_end_of_the_calendar_is_unblocked_by_withdrawing_it(
    db_url: str,
) -> None:
    """The state the defect left behind: version 2 announced for 9999-12-31T23:59:59Z (written
    here as the old code wrote it), and every later publication refused."""
    with served(db_url) as server, server.operator() as op:
        _launch(op)
        v2 = _draft(op, V2)
        end_of_calendar = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
        with server.ctx.engine.begin() as conn:
            conn.execute(
                t.rule_versions.update()
                .where(t.rule_versions.c.number == v2)
                .values(
                    published_at=T0,
                    effective_at=end_of_calendar,
                    reason="永久 / forever",
                    diff_text="earn.points_per_yuan: 1 → 2",
                )
            )
        v3 = _draft(op, V3)
        soon = T0 + timedelta(days=30)
        problem(_publish(op, v3, soon, "三倍 / triple"), 409, "rules.effective_order")
        r = _withdraw(op, v2, "日期错误 / the date was a mistake")
        assert r.status_code == 200, r.text
        assert datetime.fromisoformat(r.json()["effective_at"]) == end_of_calendar
        r = _publish(op, v3, soon, "三倍 / triple")
        assert r.status_code == 200, r.text
        assert r.json()["diff"] == "earn.points_per_yuan: 1 → 3"


def test_only_an_announced_version_not_yet_in_force_can_be_withdrawn(db_url: str) -> None:
    with served(db_url) as server, server.operator() as op:
        assert _draft(op, V1) == 1
        problem(_withdraw(op, 1), 409, "rules.not_withdrawable")  # a draft: leave it unpublished
        assert _publish(op, 1, T0, "开业 / launch").status_code == 200
        problem(_withdraw(op, 1), 409, "rules.not_withdrawable")  # already in force
        problem(_withdraw(op, 99), 404, "rules.version_not_found")

        v2 = _draft(op, V2)
        assert _publish(op, v2, T0 + timedelta(days=30), "双倍 / double").status_code == 200
        problem(_withdraw(op, v2, "   "), 422, "rules.reason_required")
        for body in ({}, {"reason": ""}, {"reason": "理" * 501}, {"reason": "x", "extra": 1}):
            r = op.post(f"/v1/rules/versions/{v2}/withdraw", json=body)
            problem(r, 422, "request.invalid")
        assert op.get("/v1/rules/versions").json()[v2 - 1]["status"] == "published"

        key = {"Idempotency-Key": "withdraw-v2"}
        first = _withdraw(op, v2, headers=key)
        assert first.status_code == 200, first.text
        replay = _withdraw(op, v2, headers=key)
        assert replay.status_code == 200 and replay.headers.get("idempotent-replayed") == "true"
        assert replay.json() == first.json()
        problem(_withdraw(op, v2), 409, "rules.already_withdrawn")
        problem(
            _publish(op, v2, T0 + timedelta(days=40), "再来 / again"),
            409,
            "rules.already_published",
        )

        # the next announcement may take the withdrawn one's date, and is withdrawable in its turn
        v3 = _draft(op, V3)
        assert _publish(op, v3, T0 + timedelta(days=30), "三倍 / triple").status_code == 200
        server.set_clock(T0 + timedelta(days=30))
        problem(_withdraw(op, v3), 409, "rules.not_withdrawable")  # in force from this instant
        problem(_withdraw(op, 1), 409, "rules.not_withdrawable")  # superseded
        anonymous = server.client()
        problem(_withdraw(anonymous, v3), 401, "auth.required")
        anonymous.close()


def test_concurrent_withdrawals_of_one_version_withdraw_it_once(db_url: str) -> None:
    with served(db_url) as server:
        with server.operator() as op:
            _launch(op)
            v2 = _draft(op, V2)
            assert _publish(op, v2, T0 + timedelta(days=30), "双倍 / double").status_code == 200
        barrier = threading.Barrier(CONCURRENT, timeout=THREAD_TIMEOUT_S)
        results: list[tuple[int, str]] = []
        lock = threading.Lock()

        def withdraw(i: int) -> None:
            with server.operator() as client:
                barrier.wait()
                r = _withdraw(client, v2, f"撤回 {i} / withdrawal {i}")
                with lock:
                    results.append((r.status_code, r.json().get("code", r.json().get("status"))))

        threads = [threading.Thread(target=withdraw, args=(i,)) for i in range(CONCURRENT)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=THREAD_TIMEOUT_S)
        assert not any(thread.is_alive() for thread in threads)
        assert sorted(results) == sorted(
            [(200, "withdrawn")] + [(409, "rules.already_withdrawn")] * (CONCURRENT - 1)
        ), results
        with server.ctx.engine.connect() as conn:
            row = conn.execute(
                select(t.rule_versions.c.withdrawn_at, t.rule_versions.c.withdraw_reason).where(
                    t.rule_versions.c.number == v2
                )
            ).one()
        assert row.withdrawn_at == T0 and re.fullmatch(
            r"撤回 \d+ / withdrawal \d+", row.withdraw_reason
        )


# -- defect 5: incoming times --------------------------------------------------------------------


def _assert_refused_time(r: httpx.Response, path: str) -> None:
    body = problem(r, 422, "request.invalid")
    assert body["errors"][0]["path"] == path, body
    assert path in body["detail"] and CJK.search(body["errors"][0]["message"]), body


def _refuses_every_edge_time(server: Server, client: ApiClient, send: Any, path: str) -> None:
    """``send(client, text)`` carries an edge time; each is refused, and the same keep-alive
    connection then serves the next request."""
    port = _local_port(client.get("/healthz"))
    for text in EDGE_TIMES:
        _assert_refused_time(send(client, text), path)
        after = client.get("/healthz")
        assert after.status_code == 200
        assert _local_port(after) == port, f"the connection was dropped after {text}"
    assert server.clock.now() == T0


def test_the_clock_refuses_times_outside_the_supported_range(db_url: str) -> None:
    with served(db_url) as server, server.operator() as op:
        _refuses_every_edge_time(
            server, op, lambda c, text: c.put("/v1/clock", json={"now": text}), "body.now"
        )


def test_publication_refuses_times_outside_the_supported_range(db_url: str) -> None:
    with served(db_url) as server, server.operator() as op:
        assert _draft(op, V1) == 1
        _refuses_every_edge_time(
            server, op, lambda c, text: _publish(c, 1, text, "开业 / launch"), "body.effective_at"
        )
        assert _statuses(op.get("/v1/rules/versions").json()) == [(1, "draft")]


def test_an_order_refuses_a_payment_time_outside_the_supported_range(db_url: str) -> None:
    with served(db_url) as server:
        with server.operator() as op:
            _launch(op)
            r = op.post(
                "/v1/merchants",
                json={"merchant_id": "cafe-1", "name": "咖啡", "category": "cafe", "kyc": KYC},
            )
            assert r.status_code == 201, r.text
            merchant_key = r.json()["api_key"]
            r = op.post(
                "/v1/members",
                json={"phone": "13800138000", "consents": {"terms": True, "privacy": True}},
            )
            assert r.status_code == 201, r.text
            member_id = r.json()["member_id"]

        def order(client: ApiClient, text: str) -> httpx.Response:
            return client.post(
                "/v1/orders",
                json={
                    "order_ref": "o-1",
                    "member_id": member_id,
                    "amount_fen": 1000,
                    "paid_at": text,
                },
            )

        with server.client(merchant_key) as merchant:
            _refuses_every_edge_time(server, merchant, order, "body.paid_at")
            assert merchant.get("/v1/orders").json()["items"] == []
            r = order(merchant, "2026-03-02T10:00:00+08:00")  # T0 in Shanghai time
            assert r.status_code == 201, r.text
            assert datetime.fromisoformat(r.json()["paid_at"]) == T0


def test_a_draft_refuses_campaign_times_outside_the_supported_range(db_url: str) -> None:
    with served(db_url) as server, server.operator() as op:
        for field in ("starts_at", "ends_at"):
            for text in EDGE_TIMES:
                campaign = {
                    "name": "双十一",
                    "starts_at": "2026-11-11T00:00:00+08:00",
                    "ends_at": "2026-11-12T00:00:00+08:00",
                    "multiplier_bp": 20_000,
                    field: text,
                }
                r = op.post("/v1/rules/drafts", json={"earn": {"campaigns": [campaign]}})
                _assert_refused_time(r, f"body.earn.campaigns.0.{field}")
        assert op.get("/v1/rules/versions").json() == []


def test_accepted_times_are_normalised_to_utc_and_the_range_ends_are_inclusive(
    db_url: str,
) -> None:
    with served(db_url) as server, server.operator() as op:
        assert _draft(op, V1) == 1
        r = _publish(op, 1, "2026-03-02T10:00:00+08:00", "开业 / launch")  # T0, Shanghai time
        assert r.status_code == 200, r.text
        assert r.json()["effective_at"] in ("2026-03-02T02:00:00Z", "2026-03-02T02:00:00+00:00")
        last = "2199-12-31T23:59:59.999999Z"
        r = op.put("/v1/clock", json={"now": "2200-01-01T07:59:59.999999+08:00"})
        assert r.status_code == 200, r.text
        assert datetime.fromisoformat(r.json()["now"]) == datetime.fromisoformat(last)
        assert server.clock.now().utcoffset() == timedelta(0)
        assert server.clock.now() == datetime(2199, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)
        # the earliest supported instant is accepted too (the clock, never going back, stays put)
        r = op.put("/v1/clock", json={"now": "2000-01-01T00:00:00Z"})
        assert (
            r.status_code == 200 and datetime.fromisoformat(r.json()["now"]) == server.clock.now()
        )


@pytest.mark.parametrize("text", ["2026-02-30T00:00:00Z", "2026-03-02T10:00:00+24:00", "soon", 1.5])
def test_a_time_that_is_not_a_time_is_refused_with_its_path(db_url: str, text: Any) -> None:
    with served(db_url) as server, server.operator() as op:
        r = op.put("/v1/clock", json={"now": text})
        body = problem(r, 422, "request.invalid")
        assert body["errors"][0]["path"] == "body.now"
        assert server.clock.now() == T0
