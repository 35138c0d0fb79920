"""Referrals over real HTTP (docs/referrals.md): a member binds to a promoter's code once, the
operator changes a referrer only with a reason, rewards accrue when the return window ends, and
each caller sees only their own: a promoter their rewards, a merchant the rewards its own orders
carried."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from alliance_http import RULES, Alliance, open_alliance_over_http
from api_server import problem, served

SHANGHAI = ZoneInfo("Asia/Shanghai")
REFERRAL_RULES: dict[str, Any] = {
    **RULES,
    "referral": {"depth": 2, "direct_bp": 30, "indirect_bp": 20},
}


@pytest.fixture
def alliance(db_url: str) -> Iterator[Alliance]:
    with served(db_url) as server:
        yield open_alliance_over_http(
            server, {"tea": "cafe", "film": "cinema"}, rules=REFERRAL_RULES
        )


def referral(a: Alliance, member_id: str) -> dict[str, Any]:
    with a.member(member_id) as me:
        r = me.get("/v1/me/referral")
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def bind(a: Alliance, member_id: str, code: str, source: str = "scan") -> Any:
    with a.member(member_id) as me:
        return me.post("/v1/me/referral/bind", json={"code": code, "source": source})


def test_a_member_binds_once_by_code_and_only_the_operator_changes_it(alliance: Alliance) -> None:
    a, b, c = (alliance.enrol(f"1380013800{n}") for n in range(3))
    code_a = referral(alliance, a)["promoter_code"]
    assert referral(alliance, a)["share_path"] == f"/r/{code_a}"
    assert referral(alliance, b)["referrer"] is None
    first = bind(alliance, b, code_a, "link")
    assert first.status_code == 200, first.text
    assert (first.json()["promoter_id"], first.json()["source"]) == (a, "link")
    assert bind(alliance, b, code_a).json()["bound_at"] == first.json()["bound_at"]
    assert referral(alliance, b)["referrer"]["promoter_id"] == a
    code_c = referral(alliance, c)["promoter_code"]
    problem(bind(alliance, b, code_c), 409, "referral.already_bound")
    problem(bind(alliance, a, code_a), 422, "referral.cycle")
    problem(bind(alliance, a, referral(alliance, b)["promoter_code"]), 422, "referral.cycle")
    forged = code_a[:-8] + ("0" * 8 if not code_a.endswith("0" * 8) else "1" * 8)
    problem(bind(alliance, c, forged), 404, "referral.promoter_not_found")
    with alliance.server.operator() as op:
        no_reason = op.put(f"/v1/members/{b}/referrer", json={"promoter_id": c})
        problem(no_reason, 422, "request.invalid")
        r = op.put(
            f"/v1/members/{b}/referrer", json={"promoter_id": c, "reason": "wrong code scanned"}
        )
        assert r.status_code == 200 and r.json()["promoter_id"] == c, r.text
        records = op.get("/v1/audit/records").json()["items"]
        problem(
            op.put(f"/v1/members/{c}/referrer", json={"promoter_id": b, "reason": "loop"}),
            422,
            "referral.cycle",
        )
    assert [(x["action"], x["subject"], x["reason"]) for x in records] == [
        ("referral.referrer", b, "wrong code scanned")
    ]
    assert records[0]["query"] == f"promoter {a} -> {c}"


def test_rewards_accrue_at_the_end_of_the_window_and_each_caller_sees_their_own(
    alliance: Alliance,
) -> None:
    a, b, c = (alliance.enrol(f"1390013900{n}") for n in range(3))
    assert bind(alliance, b, referral(alliance, a)["promoter_code"]).status_code == 200
    assert bind(alliance, c, referral(alliance, b)["promoter_code"]).status_code == 200
    alliance.order("tea", "t-1", c, 10_000)
    alliance.order("film", "f-1", c, 20_000)
    with alliance.merchant("film") as film:
        r = film.post("/v1/orders/f-1/refunds", json={"refund_ref": "rf-1", "refund_fen": 20_000})
        assert r.status_code == 200, r.text
    with alliance.server.operator() as op:
        assert op.post("/v1/jobs/run", json={}).status_code == 200  # tracked: pending
        pending = op.get("/v1/referrals/rewards", params={"state": "pending"}).json()["items"]
    assert sorted((x["order_ref"], x["kind"], x["fen"]) for x in pending) == [
        ("f-1", "direct", 60), ("f-1", "indirect", 40),
        ("t-1", "direct", 30), ("t-1", "indirect", 20),
    ]  # fmt: skip
    alliance.release_all()
    with alliance.member(b) as me:
        mine = me.get("/v1/me/rewards").json()["items"]
    assert sorted((x["order_ref"], x["state"], x["basis_fen"], x["fen"]) for x in mine) == [
        ("f-1", "reversed", 0, 0),
        ("t-1", "accrued", 10_000, 30),
    ]
    assert all(x["promoter_id"] == b and x["funded_by"] == "operator_revenue" for x in mine)
    with alliance.member(a) as me:
        accrued = me.get("/v1/me/rewards", params={"state": "accrued"}).json()["items"]
    assert [(x["order_ref"], x["kind"], x["fen"]) for x in accrued] == [("t-1", "indirect", 20)]
    due = datetime.fromisoformat(accrued[0]["due_at"]).astimezone(SHANGHAI)
    assert accrued[0]["month"] == due.strftime("%Y-%m")
    with alliance.merchant("tea") as tea:
        theirs = tea.get("/v1/merchant/referral-rewards").json()["items"]
    assert {x["merchant_id"] for x in theirs} == {"tea"} and len(theirs) == 2
    with alliance.server.operator() as op:
        of_b = op.get("/v1/referrals/rewards", params={"promoter_id": b}).json()["items"]
        problem(op.get("/v1/referrals/rewards", params={"state": "owed"}), 422, "request.invalid")
        entries = op.get("/v1/audit/entries", params={"limit": 100}).json()["items"]
    assert {x["promoter_id"] for x in of_b} == {b}
    owed = [e for e in entries if any(leg["account"] == "system:referral_payable"
                                      for leg in e["legs"])]  # fmt: skip
    assert len(owed) == 2 and all("t-1" in e["detail"]["memo"] for e in owed)


def test_paging_the_rewards(alliance: Alliance) -> None:
    a, b = alliance.enrol("13700137000"), alliance.enrol("13700137001")
    assert bind(alliance, b, referral(alliance, a)["promoter_code"]).status_code == 200
    for n in range(3):
        alliance.order("tea", f"t-{n}", b, 10_000)
    alliance.release_all()
    seen: list[str] = []
    cursor = None
    with alliance.member(a) as me:
        while True:
            params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
            page = me.get("/v1/me/rewards", params=params).json()
            seen += [x["order_ref"] for x in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
    assert sorted(seen) == ["t-0", "t-1", "t-2"]


def test_the_operator_sets_a_merchants_recruiter_with_a_reason(alliance: Alliance) -> None:
    a = alliance.enrol("13600136000")
    with alliance.server.operator() as op:
        r = op.put("/v1/merchants/tea/recruiter", json={"promoter_id": a, "reason": "onboarding"})
        assert r.status_code == 200 and r.json()["promoter_id"] == a, r.text
        problem(
            op.put("/v1/merchants/none/recruiter", json={"promoter_id": a, "reason": "x"}),
            404,
            "merchant.not_found",
        )
        problem(
            op.put("/v1/merchants/tea/recruiter", json={"promoter_id": "m-x", "reason": "x"}),
            404,
            "referral.promoter_not_found",
        )
    with alliance.merchant("tea") as tea:
        forbidden = tea.put("/v1/merchants/tea/recruiter", json={"promoter_id": a, "reason": "x"})
        problem(forbidden, 403, "auth.forbidden")
        problem(tea.get("/v1/referrals/rewards"), 403, "auth.forbidden")
    with alliance.member(a) as me:
        problem(me.get("/v1/merchant/referral-rewards"), 403, "auth.forbidden")
        problem(
            me.put(f"/v1/members/{a}/referrer", json={"promoter_id": a, "reason": "x"}),
            403,
            "auth.forbidden",
        )
