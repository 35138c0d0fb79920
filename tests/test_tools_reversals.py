"""Redemption void (same business day) and reversal (any day after) through the API (issue 12):
the points go back to the member, once; a merchant undoes only its own; the operator any."""

from __future__ import annotations

from datetime import timedelta

from api_server import problem
from jifen.app.clock import business_date
from tools_kit import tools_alliance


def test_a_void_the_same_day_gives_the_points_back_and_nets_to_nothing(db_url: str) -> None:
    with tools_alliance(db_url) as t:
        member = t.members[0]
        before = t.available(member)
        redemption = t.redeem("beta", member, 100, "bill-1")
        assert t.available(member) == before - 100
        with t.alliance.merchant("alpha") as alpha:  # not alpha's redemption: not found
            for kind in ("void", "reversal"):
                problem(
                    alpha.post(f"/v1/redemptions/{redemption}/{kind}", json={"reason": "x"}),
                    404,
                    "redemption.not_found",
                )
            problem(alpha.get(f"/v1/redemptions/{redemption}"), 404, "redemption.not_found")
        with t.alliance.merchant("beta") as beta:
            assert beta.get(f"/v1/redemptions/{redemption}").json()["points"] == 100
            r = beta.post(
                f"/v1/redemptions/{redemption}/void",
                json={"reason": "顾客取消"},
                headers={"Idempotency-Key": "void-1"},
            )
            assert r.status_code == 200, r.text
            voided = r.json()
            assert (voided["kind"], voided["merchant_id"]) == ("void", "beta")
            assert voided["redemption"]["redemption_id"] == redemption
            replay = beta.post(
                f"/v1/redemptions/{redemption}/void",
                json={"reason": "顾客取消"},
                headers={"Idempotency-Key": "void-1"},
            )
            assert replay.headers.get("Idempotent-Replayed") == "true"
            retried = beta.post(f"/v1/redemptions/{redemption}/void", json={"reason": "顾客取消"})
            assert retried.json()["reversal_id"] == voided["reversal_id"]  # once, any key
            problem(
                beta.post(f"/v1/redemptions/{redemption}/reversal", json={"reason": "again"}),
                409,
                "redemption.already_reversed",
            )
            problem(
                beta.post("/v1/redemptions/nope/void", json={"reason": "x"}), 422, "request.invalid"
            )
        assert t.available(member) == before
        today = business_date(t.server.clock.now()).isoformat()
        t.alliance.release_all(days=1)  # the day closes: its statement nets the two
        with t.server.operator() as op:
            items = op.get("/v1/statements", params={"merchant_id": "beta"}).json()["items"]
        day = next(s for s in items if s["business_date"] == today)
        assert (day["reimbursements_fen"], day["adjustments_fen"]) == (100, -100)
        assert day["points_accepted"] == 0


def test_an_earlier_days_redemption_is_reversed_not_voided_and_netted_next(db_url: str) -> None:
    with tools_alliance(db_url) as t:
        member = t.members[1]
        before = t.available(member)
        redemption = t.redeem("alpha", member, 200, "bill-2")
        t.alliance.release_all(days=1)  # its day is closed: the merchant was reimbursed
        with t.alliance.merchant("alpha") as alpha:
            problem(
                alpha.post(f"/v1/redemptions/{redemption}/void", json={"reason": "late"}),
                409,
                "redemption.not_voidable",
            )
        with t.server.operator() as op:  # the operator may undo any merchant's
            r = op.post(f"/v1/redemptions/{redemption}/reversal", json={"reason": "收银错误"})
            assert r.status_code == 200, r.text
            assert (r.json()["kind"], r.json()["merchant_id"]) == ("reversal", "alpha")
        assert t.available(member) == before
        t.server.set_clock(t.server.clock.now() + timedelta(days=1))
        with t.server.operator() as op:
            assert op.post("/v1/jobs/run", json={}).status_code == 200
            items = op.get("/v1/statements", params={"merchant_id": "alpha"}).json()["items"]
        assert items[0]["adjustments_fen"] == -200  # owed back, netted on the next statement
