"""Webhooks over real HTTP (group commit on): subscribing (the secret shown once, idempotent on
the key), scoping between subscribers, a refused write leaves no event, the delivery log,
replay, and expiry reminders as operator events and the member's own list."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from alliance_http import RULES, Alliance, open_alliance_over_http, order_body
from api_server import Server, problem, served
from jifen.store import tables as t
from jifen.webhooks import deliver_due
from webhook_receiver import receiving

PHONE = "13800138000"


def _subscribe(client: Any, url: str, events: list[str], key: str | None = None) -> Any:
    headers = {"Idempotency-Key": key} if key else {}
    return client.post("/v1/webhooks/subscriptions", json={"url": url, "events": events},
                       headers=headers)  # fmt: skip


def _outbox(server: Server) -> int:
    with server.ctx.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(t.webhook_deliveries)).scalar())


def _alliance(server: Server) -> tuple[Alliance, str]:
    alliance = open_alliance_over_http(server, {"tea": "cafe", "film": "cinema"})
    return alliance, alliance.enrol(PHONE)


def test_subscriptions_are_the_callers_own_and_the_secret_is_shown_once(db_url: str) -> None:
    with served(db_url) as server, receiving() as receiver:
        alliance, _ = _alliance(server)
        with alliance.merchant("tea") as tea, alliance.merchant("film") as film:
            r = _subscribe(tea, receiver.url, ["order.recorded"], key="sub-1")
            assert r.status_code == 201, r.text
            sub = r.json()
            assert sub["secret"].startswith("whsec_") and sub["merchant_id"] == "tea"
            again = _subscribe(tea, receiver.url, ["order.recorded"], key="sub-1")
            assert again.headers["Idempotent-Replayed"] == "true"
            assert again.json()["secret"] is None  # never stored, never shown again
            assert again.json()["subscription_id"] == sub["subscription_id"]
            assert [s["subscription_id"] for s in tea.get("/v1/webhooks/subscriptions").json()[
                "items"]] == [sub["subscription_id"]]  # fmt: skip
            path = f"/v1/webhooks/subscriptions/{sub['subscription_id']}"
            assert film.get("/v1/webhooks/subscriptions").json()["items"] == []
            for call in (film.get(path), film.patch(path, json={"status": "disabled"}),
                         film.delete(path), film.post(f"{path}/rotate-secret"),
                         film.get(f"{path}/deliveries")):  # fmt: skip
                problem(call, 404, "webhook.subscription_not_found")
            problem(_subscribe(film, receiver.url, ["points.expiry_reminder"]), 422,
                    "webhook.event_not_allowed")  # fmt: skip
            problem(_subscribe(film, "ftp://example.com/x", ["order.recorded"]), 422,
                    "request.invalid")  # fmt: skip
            r = tea.patch(path, json={"status": "disabled"})
            assert r.status_code == 200 and r.json()["status"] == "disabled"
            assert tea.delete(path).json()["status"] == "deleted"
            problem(tea.get(path), 404, "webhook.subscription_not_found")
        with alliance.member(alliance.enrol("13800138001")) as me:
            problem(_subscribe(me, receiver.url, ["order.recorded"]), 403, "auth.forbidden")


def test_a_refused_write_leaves_no_event_and_a_disabled_subscription_gets_none(
    db_url: str,
) -> None:
    with served(db_url) as server, receiving() as receiver:
        alliance, member = _alliance(server)
        with alliance.merchant("tea") as tea:
            sub = _subscribe(tea, receiver.url, ["order.recorded", "order.refunded"]).json()
            late = order_body("late", member, 10_000, alliance)
            late["paid_at"] = (server.clock.now() + timedelta(hours=1)).isoformat()
            problem(tea.post("/v1/orders", json=late), 422, "order.paid_in_future")
            problem(tea.post("/v1/orders", json=order_body("x", "nobody", 10_000, alliance)),
                    404, "member.not_found")  # fmt: skip
            problem(tea.post("/v1/orders/none/refunds",
                             json={"refund_ref": "r1", "refund_fen": 100}),
                    404, "order.not_found")  # fmt: skip
            assert _outbox(server) == 0
            alliance.order("tea", "o1", member, 10_000)
            path = f"/v1/webhooks/subscriptions/{sub['subscription_id']}"
            tea.patch(path, json={"status": "disabled"})
            alliance.order("tea", "o2", member, 10_000)  # nobody active wants it
            assert _outbox(server) == 1
            tea.patch(path, json={"status": "active"})
        assert deliver_due(server.ctx).delivered == 1
        assert [json.loads(b)["data"]["order_ref"] for b in receiver.bodies()] == ["o1"]


def test_the_log_shows_each_attempt_and_replay_resends_the_same_events(db_url: str) -> None:
    with served(db_url) as server, receiving() as receiver:
        alliance, member = _alliance(server)
        receiver.answer = lambda _: 500
        with alliance.merchant("tea") as tea:
            sub = _subscribe(tea, receiver.url, ["order.recorded"]).json()
            path = f"/v1/webhooks/subscriptions/{sub['subscription_id']}"
            alliance.order("tea", "o1", member, 10_000)
            since = server.set_clock(server.clock.now() + timedelta(minutes=1))
            alliance.order("tea", "o2", member, 10_000)
            assert deliver_due(server.ctx).attempted == 2
            log = tea.get(f"{path}/deliveries").json()["items"]
            assert [(d["status"], d["attempts"], d["last_status_code"]) for d in log] == [
                ("pending", 1, 500), ("pending", 1, 500)]  # fmt: skip
            assert all(d["next_attempt_at"] > since.isoformat() for d in log)
            receiver.answer = lambda _: 200
            server.set_clock(server.clock.now() + timedelta(minutes=2))
            assert deliver_due(server.ctx).delivered == 2
            log = tea.get(f"{path}/deliveries", params={"status": "delivered"}).json()["items"]
            assert [d["attempts"] for d in log] == [2, 2]
            first = tea.get(f"{path}/deliveries", params={"limit": 1}).json()
            rest = tea.get(f"{path}/deliveries",
                           params={"limit": 1, "cursor": first["next_cursor"]}).json()  # fmt: skip
            assert [first["items"][0]["event_id"], rest["items"][0]["event_id"]] == [
                d["event_id"] for d in log] and rest["next_cursor"] is None  # fmt: skip
            newest = log[0]["event_id"]
            r = tea.post(f"{path}/deliveries/{newest}/replay")
            assert r.status_code == 200 and r.json()["status"] == "pending"
            problem(tea.post(f"{path}/deliveries/evt_{'0' * 32}/replay"), 404,
                    "webhook.delivery_not_found")  # fmt: skip
            assert deliver_due(server.ctx).delivered == 1
            r = tea.post(f"{path}/replay", json={"since": since.isoformat()})
            assert r.json() == {"replayed": 1}  # o2 only: o1 occurred before
            r = tea.post(f"{path}/replay", json={"since": (since - timedelta(hours=1)).isoformat()})
            assert r.json() == {"replayed": 2}
            assert deliver_due(server.ctx).delivered == 2
        ids = receiver.event_ids()
        assert len(ids) == 2 + 2 + 1 + 2 and len(set(ids)) == 2  # every resend: a known id
        assert ids.count(newest) == 4


def test_expiry_reminders_go_to_the_operator_and_to_the_members_own_list(db_url: str) -> None:
    rules = {**RULES, "expiry": {"policy": "rolling", "months": 1}}
    with served(db_url) as server, receiving() as receiver:
        alliance = open_alliance_over_http(server, {"tea": "cafe"}, rules)
        member = alliance.enrol(PHONE)
        with server.operator() as op:
            r = _subscribe(op, receiver.url, ["points.expiry_reminder", "points.released"])
            assert r.status_code == 201 and r.json()["merchant_id"] is None
        alliance.order("tea", "o1", member, 10_000)
        alliance.release_all(days=10)  # released, then days closed: expiring within 30 days
        deliver_due(server.ctx)
        sent = {b["type"]: b for b in map(json.loads, receiver.bodies())}
        reminder = sent["points.expiry_reminder"]
        assert reminder["merchant_id"] is None and reminder["data"]["member_id"] == member
        assert reminder["data"]["points"] == 100 == sent["points.released"]["data"]["points"]
        with alliance.member(member) as me:
            page = me.get("/v1/me/reminders").json()
        assert page["next_cursor"] is None and len(page["items"]) >= 1
        newest = page["items"][0]
        assert newest["points"] == 100 and newest["lots"][0]["points"] == 100
        expiry = datetime.fromisoformat(reminder["data"]["first_expiry"])
        assert datetime.fromisoformat(newest["first_expiry"]) == expiry
        with alliance.member(alliance.enrol("13800138002")) as other:
            assert other.get("/v1/me/reminders").json()["items"] == []
