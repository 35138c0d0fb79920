"""The coalition's user journeys end to end, over real HTTP against a real uvicorn server.

Operator publishes rules with notice; merchants are onboarded; a member earns at one merchant,
waits out the return window, redeems at another with a one-time code; a refund claws back; the day
is settled; every statement is re-derived from the journal; the reserve covers what is owed; and
``jifen verify`` finds the store intact. On SQLite and, with JIFEN_TEST_PG, on PostgreSQL.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from api_server import KYC, T0, ApiClient, Server, problem, served
from jifen.ledger import _tables as t

SHANGHAI = ZoneInfo("Asia/Shanghai")
PHONE = "13800138000"

V1: dict[str, Any] = {
    "title_zh": "联盟积分规则",
    "notice_days": 30,
    "point_value": {"fen_per_point": 1},
    "issue_price": {"fen_per_1000_points": 1234},
    "earn": {"points_per_yuan": 2, "category_multipliers_bp": {"cafe": 15_000}},
    "pending": {"return_window_days": 7},
    "expiry": {"policy": "rolling", "months": 12},
    "redemption": {"min_points": 100, "max_order_share_bp": 5_000},
}
ORDERS = {"a-1": 12_345, "a-2": 8_888}  # order_ref → amount_fen, both paid at merchant A (cafe)
REDEEM_POINTS, REDEEM_ORDER_FEN = 300, 1_000
REFUND_FEN = 5_000  # of a-1


def _earned(amount_fen: int) -> int:
    """The rule by hand: 2 points per yuan, ×1.5 for cafes, floored once."""
    return amount_fen * 2 * 15_000 // (100 * 10_000)


def _charge(points: int) -> int:
    return -(-points * V1["issue_price"]["fen_per_1000_points"] // 1000)


def _day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(0), SHANGHAI)
    return start.astimezone(UTC), (start + timedelta(days=1)).astimezone(UTC)


def _ledger_fen(server: Server, merchant_id: str, kinds: tuple[str, ...], day: date) -> int:
    """The merchant's CNY legs booked by entries of ``kinds`` on ``day``, summed in SQL."""
    start, end = _day_bounds(day)
    query = (
        select(func.coalesce(func.sum(t.legs.c.amount), 0))
        .select_from(t.legs.join(t.entries, t.entries.c.entry_id == t.legs.c.entry_id))
        .where(
            t.legs.c.account_id == f"merchant:{merchant_id}:cny",
            t.entries.c.kind.in_(kinds),
            t.entries.c.at >= start,
            t.entries.c.at < end,
        )
    )
    with server.ctx.engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def _publish(op: ApiClient, number: int, effective_at: datetime, reason: str) -> Any:
    return op.post(
        f"/v1/rules/versions/{number}/publish",
        json={"effective_at": effective_at.isoformat(), "reason": reason},
    )


def _draft(op: ApiClient, document: dict[str, Any]) -> int:
    r = op.post("/v1/rules/drafts", json=document)
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "draft"
    return int(r.json()["number"])


def _onboard(op: ApiClient, merchant_id: str, category: str) -> str:
    r = op.post(
        "/v1/merchants",
        json={"merchant_id": merchant_id, "name": merchant_id, "category": category, "kyc": KYC},
    )
    assert r.status_code == 201, r.text
    key = str(r.json()["api_key"])
    assert key.startswith("jfm_") and len(key) > 30
    again = op.get(f"/v1/merchants/{merchant_id}")
    assert again.status_code == 200 and again.json()["category"] == category
    assert key not in again.text  # shown once, never again
    return key


def _login(op: ApiClient, member_id: str) -> str:
    """What the member app's login service does: ask the operator API for a member token."""
    r = op.post(f"/v1/members/{member_id}/tokens")
    assert r.status_code == 201, r.text
    return str(r.json()["token"])


def _run_jobs(server: Server, now: datetime) -> list[dict[str, Any]]:
    server.set_clock(now)
    with server.operator() as op:
        r = op.post("/v1/jobs/run", json={})
    assert r.status_code == 200, r.text
    days: list[dict[str, Any]] = r.json()
    assert all(d["reserve_ok"] for d in days), days
    return days


def test_a_member_earns_redeems_and_is_refunded_and_every_fen_is_accounted_for(
    db_url: str,
) -> None:
    with served(db_url) as server, server.operator() as op, server.client() as public:
        # -- rules: v1 at once; v2 needs 30 days' notice ----------------------------------------
        assert _draft(op, V1) == 1
        r = _publish(op, 1, T0, "联盟开业 / launch")
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "effective"
        v2 = {**V1, "earn": {**V1["earn"], "points_per_yuan": 3}}
        assert _draft(op, v2) == 2
        too_soon = problem(
            _publish(op, 2, T0 + timedelta(days=3), "多送积分"), 422, "rules.notice_too_short"
        )
        assert "30" in too_soon["detail"]
        history = public.get("/v1/public/rules/history")
        assert [v["number"] for v in history.json()] == [1]
        assert public.get("/v1/public/rules/upcoming").json() == []
        r = _publish(op, 2, T0 + timedelta(days=30), "每元 3 分 / 3 points per yuan")
        assert r.status_code == 200, r.text
        upcoming = public.get("/v1/public/rules/upcoming").json()
        assert [(v["number"], v["status"]) for v in upcoming] == [(2, "published")]
        assert "points_per_yuan" in upcoming[0]["diff"]
        assert upcoming[0]["effective_at"].startswith("2026-04-01")
        assert public.get("/v1/public/rules/current").json()["number"] == 1

        # -- merchants, member, token -------------------------------------------------------------
        a_key, b_key = _onboard(op, "alpha", "cafe"), _onboard(op, "beta", "cinema")
        r = op.post(
            "/v1/members", json={"phone": PHONE, "consents": {"terms": True, "privacy": True}}
        )
        assert r.status_code == 201, r.text
        member_id = r.json()["member_id"]
        assert r.json()["phone_masked"] == "138****8000"
        token = _login(op, member_id)

        with server.client(a_key) as a, server.client(b_key) as b, server.client(token) as me:
            # -- merchant A records paid orders: pending points ----------------------------------
            points = {}
            for ref, amount_fen in ORDERS.items():
                r = a.post(
                    "/v1/orders",
                    json={
                        "order_ref": ref,
                        "member_id": member_id,
                        "amount_fen": amount_fen,
                        "paid_at": T0.isoformat(),
                    },
                )
                assert r.status_code == 201, r.text
                order = r.json()
                assert (order["status"], order["rule_version"]) == ("pending", 1)
                assert order["points"] == order["pending"] == _earned(amount_fen)
                points[ref] = order["points"]
            earned = sum(points.values())
            account = me.get("/v1/me").json()
            assert account["member_id"] == member_id
            assert (account["available"], account["pending"]) == (0, earned)
            lots = {lot["order_ref"]: lot for lot in account["pending_lots"]}
            assert set(lots) == set(ORDERS)
            for ref, lot in lots.items():
                assert lot["pending"] == points[ref]
                assert datetime.fromisoformat(lot["release_at"]) == T0 + timedelta(days=7)

            # -- past the return window, the jobs release the points -----------------------------
            days = _run_jobs(server, T0 + timedelta(days=8))
            problem(me.get("/v1/me"), 401, "auth.invalid_token")  # tokens last 12 hours
            me.headers["Authorization"] = f"Bearer {_login(op, member_id)}"
            first = days[0]
            assert first["business_date"] == "2026-03-02"
            assert first["net_fen_by_merchant"] == {"alpha": -sum(map(_charge, points.values()))}
            account = me.get("/v1/me").json()
            assert (account["available"], account["pending"]) == (earned, 0)
            assert account["pending_lots"] == []

            # -- the member redeems at merchant B with a one-time code ---------------------------
            r = me.post("/v1/me/redemption-codes")
            assert r.status_code == 201, r.text
            code = r.json()["code"]
            over = {"code": code, "points": 600, "order_ref": "b-0", "order_amount_fen": 1_000}
            problem(b.post("/v1/redemptions", json=over), 422, "redemption.over_order_share")
            below = {**over, "points": 99}
            problem(b.post("/v1/redemptions", json=below), 422, "redemption.below_minimum")
            redemption = {
                "code": code,
                "points": REDEEM_POINTS,
                "order_ref": "b-1",
                "order_amount_fen": REDEEM_ORDER_FEN,
            }
            key = {"Idempotency-Key": "checkout-b-1"}
            first_try = b.post("/v1/redemptions", json=redemption, headers=key)
            assert first_try.status_code == 201, first_try.text
            assert first_try.json()["points"] == REDEEM_POINTS
            assert (
                first_try.json()["value_fen"] == REDEEM_POINTS * V1["point_value"]["fen_per_point"]
            )
            replay = b.post("/v1/redemptions", json=redemption, headers=key)
            assert replay.status_code == 201
            assert replay.json() == first_try.json()
            assert replay.headers.get("Idempotent-Replayed") == "true"
            reused = {**redemption, "order_ref": "b-2"}
            problem(b.post("/v1/redemptions", json=reused), 409, "redemption.code_used")
            # one code, one redemption: not even the same checkout again at another merchant
            problem(a.post("/v1/redemptions", json=redemption), 409, "redemption.code_used")
            problem(
                b.post("/v1/redemptions", json=reused, headers=key), 409, "idempotency.conflict"
            )
            assert me.get("/v1/me").json()["available"] == earned - REDEEM_POINTS

            # -- merchant A refunds part of a-1: clawback pro rata -------------------------------
            r = a.post(
                "/v1/orders/a-1/refunds", json={"refund_ref": "rf-1", "refund_fen": REFUND_FEN}
            )
            assert r.status_code == 200, r.text
            clawback = points["a-1"] * REFUND_FEN // ORDERS["a-1"]
            assert r.json()["clawback_points"] == clawback
            assert r.json()["order"]["refunded_fen"] == REFUND_FEN
            outstanding = earned - REDEEM_POINTS - clawback
            assert me.get("/v1/me").json()["available"] == outstanding

            # -- the next day is closed: statements match the journal to the fen -----------------
            days = _run_jobs(server, T0 + timedelta(days=9))
            assert [d["business_date"] for d in days] == ["2026-03-10"]
            me.headers["Authorization"] = f"Bearer {_login(op, member_id)}"
            expected = {
                ("alpha", "2026-03-02"): (sum(map(_charge, points.values())), 0),
                ("alpha", "2026-03-10"): (0, 0),
                ("beta", "2026-03-10"): (0, REDEEM_POINTS * V1["point_value"]["fen_per_point"]),
            }
            seen = {}
            for merchant_id, client in (("alpha", a), ("beta", b)):
                r = client.get("/v1/statements")
                assert r.status_code == 200, r.text
                for s in r.json()["items"]:
                    assert s["merchant_id"] == merchant_id
                    day = date.fromisoformat(s["business_date"])
                    charges = -_ledger_fen(server, merchant_id, ("earn",), day)
                    reimbursed = _ledger_fen(server, merchant_id, ("redeem",), day)
                    credits = _ledger_fen(server, merchant_id, ("void", "refund"), day)
                    assert (s["charges_fen"], s["reimbursements_fen"]) == (charges, reimbursed)
                    assert s["credits_fen"] == credits
                    assert s["net_fen"] == reimbursed + credits + s["adjustments_fen"] - charges
                    seen[(merchant_id, s["business_date"])] = (charges, reimbursed)
            assert seen == expected
            assert (
                _ledger_fen(server, "alpha", ("refund",), date(2026, 3, 10))
                == clawback * V1["point_value"]["fen_per_point"]
            )

            # -- the reserve covers every outstanding point at its value -------------------------
            report = op.get("/v1/reports/liabilities").json()
            assert report["outstanding_points"] == outstanding
            assert report["value_fen"] == outstanding * V1["point_value"]["fen_per_point"]
            assert report["reserve_fen"] == report["value_fen"]
            assert report["coverage"] == "100.00%"

            # -- each history line names its order and rule version ------------------------------
            lines = me.get("/v1/me/history").json()["items"]
            kinds = sorted(line["kind"] for line in lines)
            assert kinds == ["earn", "earn", "redeem", "refund", "release", "release"]
            assert sum(line["points"] for line in lines) == outstanding
            for line in lines:
                if line["kind"] == "redeem":
                    assert (line["order_ref"], line["merchant_id"]) == ("b-1", "beta")
                    assert line["points"] == -REDEEM_POINTS
                else:
                    assert line["order_ref"] in ORDERS and line["merchant_id"] == "alpha"
                    assert line["rule_version"] == 1

    verified = subprocess.run(
        [sys.executable, "-m", "jifen", "verify", "--db", db_url],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr


def _public_rules(public: ApiClient) -> tuple[Any, Any]:
    return (
        public.get("/v1/public/rules/history").json(),
        public.get("/v1/public/rules/upcoming").json(),
    )


def test_a_rule_that_reduces_the_rights_of_outstanding_points_is_refused_and_stays_a_draft(
    db_url: str,
) -> None:
    v1 = {**V1, "point_value": {"fen_per_point": 2}, "issue_price": {"fen_per_1000_points": 2400}}
    shorter = {**v1, "expiry": {"policy": "rolling", "months": 6}}
    cheaper = {**v1, "point_value": {"fen_per_point": 1}}
    both = {**shorter, "point_value": {"fen_per_point": 1}}
    with served(db_url) as server, server.operator() as op, server.client() as public:
        assert _draft(op, v1) == 1
        assert _publish(op, 1, T0, "launch").status_code == 200
        a_key = _onboard(op, "alpha", "cafe")
        r = op.post(
            "/v1/members", json={"phone": PHONE, "consents": {"terms": True, "privacy": True}}
        )
        member_id = r.json()["member_id"]
        with server.client(a_key) as a:
            r = a.post(
                "/v1/orders",
                json={
                    "order_ref": "a-1",
                    "member_id": member_id,
                    "amount_fen": 10_000,
                    "paid_at": T0.isoformat(),
                },
            )
        assert r.status_code == 201 and r.json()["points"] > 0, r.text
        before = _public_rules(public)
        later = T0 + timedelta(days=31)  # ample notice: only the rights gate can refuse
        for document, paths in (
            (shorter, ["expiry"]),
            (cheaper, ["point_value.fen_per_point"]),
            (both, ["point_value.fen_per_point", "expiry"]),
        ):
            number = _draft(op, document)
            refused = problem(_publish(op, number, later, "cut costs"), 409, "rules.rights_reduced")
            assert [e["path"] for e in refused["errors"]] == paths
            for path in paths:
                assert path in refused["detail"]
            expiry = next((e for e in refused["errors"] if e["path"] == "expiry"), None)
            if expiry is not None:
                assert (expiry["old"]["months"], expiry["new"]["months"]) == (12, 6)
            assert op.get("/v1/rules/versions").json()[number - 1]["status"] == "draft"
            assert _public_rules(public) == before
        statuses = [v["status"] for v in op.get("/v1/rules/versions").json()]
        assert statuses == ["effective", "draft", "draft", "draft"]
        # the gate is about reductions: lengthening the expiry with the same notice is published
        longer = _draft(op, {**v1, "expiry": {"policy": "rolling", "months": 24}})
        assert _publish(op, longer, later, "longer validity").status_code == 200
        history, upcoming = _public_rules(public)
        assert [v["number"] for v in history] == [1, longer]
        assert [v["number"] for v in upcoming] == [longer]
