"""A property over parallel traffic (issue 8): whatever mix of orders, redemptions and refunds
arrives together, with Idempotency-Keys and members shared between the requests, afterwards

- every key was written at most once (all its 2xx answers are one answer, and the journal holds
  one entry per business operation the keys stand for),
- no limit of the rules was exceeded (a member's daily cap, an order's redemption share),
- ``jifen verify`` finds the books clean.

Hypothesis draws the mix; each example fires it at one instant through the real HTTP server.
"""

from __future__ import annotations

import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from alliance_http import RULES, open_alliance_over_http, order_body, post, together
from api_server import served
from jifen.ledger import _tables as t
from jifen.ledger import verify

DAILY_CAP = 3_000
SHARE_BP = 5_000
RULES_CAPPED = {
    **RULES,
    "earn": {"points_per_yuan": 1, "max_points_per_member_per_day": DAILY_CAP},
    "redemption": {"min_points": 1, "max_order_share_bp": SHARE_BP},
}
MEMBERS = 3
KEYS = 6  # fewer keys than requests: keys are shared, and with different bodies too


@dataclass(frozen=True)
class Request:
    kind: str  # order | redeem | refund
    key: int
    member: int
    merchant: str
    amount: int  # order or refund fen; points to redeem
    ref: int


REQUESTS = st.builds(
    Request,
    kind=st.sampled_from(["order", "order", "redeem", "refund"]),
    key=st.integers(0, KEYS - 1),
    member=st.integers(0, MEMBERS - 1),
    merchant=st.sampled_from(["cafe", "books"]),
    amount=st.sampled_from([100, 900, 1_500, 2_000]),
    ref=st.integers(0, 3),
)


def _call(a: Any, example: int, req: Request, codes: dict[int, list[str]]) -> Any:
    headers = {"Idempotency-Key": f"x{example}-{req.kind}-{req.key}"}
    member_ref = a.members[req.member]
    if req.kind == "order":
        body = order_body(f"x{example}-o{req.ref}", member_ref, req.amount * 100, a)
        return post(lambda: a.merchant(req.merchant), "/v1/orders", json=body, headers=headers)
    if req.kind == "refund":
        path = f"/v1/orders/x{example}-o{req.ref}/refunds"
        body = {"refund_ref": f"r{req.key}", "refund_fen": req.amount}
        return post(lambda: a.merchant(req.merchant), path, json=body, headers=headers)
    code = codes[req.member].pop() if codes[req.member] else "0" * 18
    body = {"code": code, "points": req.amount, "order_ref": f"x{example}-bill{req.ref}",
            "order_amount_fen": 4_000}  # fmt: skip
    return post(lambda: a.merchant(req.merchant), "/v1/redemptions", json=body, headers=headers)


def test_parallel_traffic_writes_each_key_once_keeps_every_limit_and_verifies(
    db_url: str,
) -> None:
    with served(db_url) as server:
        a = open_alliance_over_http(server, {"cafe": "cafe", "books": "books"}, RULES_CAPPED)
        a.members = [a.enrol(f"1380013800{i}") for i in range(MEMBERS)]  # type: ignore[attr-defined]
        for i, member in enumerate(a.members):  # type: ignore[attr-defined]
            a.order("cafe", f"seed-{i}", member, 300_000)
        a.release_all()
        examples = iter(range(1_000))

        @settings(
            max_examples=6,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        @given(st.lists(REQUESTS, min_size=20, max_size=24))
        def run(requests: list[Request]) -> None:
            example = next(examples)
            server.set_clock(server.clock.now() + timedelta(days=1))  # a fresh day's cap
            codes = {m: [a.code(a.members[m]) for _ in range(3)] for m in range(MEMBERS)}  # type: ignore[attr-defined]
            answers = together([_call(a, example, r, codes) for r in requests])
            assert all(r.status_code < 500 for r in answers), [r.text for r in answers]
            by_key: dict[str, set[str]] = defaultdict(set)
            for req, r in zip(requests, answers, strict=True):
                if r.status_code < 300:
                    by_key[f"{req.merchant}/{req.kind}-{req.key}"].add(r.text)
            assert all(len(bodies) == 1 for bodies in by_key.values()), by_key
            recorded = {
                (req.merchant, r.json()["order_ref"])
                for req, r in zip(requests, answers, strict=True)
                if req.kind == "order" and r.status_code == 201 and r.json()["points"] > 0
            }
            with server.ctx.engine.connect() as conn:
                lots = conn.execute(
                    select(t.lots.c.merchant_id, t.lots.c.order_ref).where(
                        t.lots.c.order_ref.like(f"x{example}-%")
                    )
                ).all()
            assert sorted(map(tuple, lots)) == sorted(recorded)  # one lot per order, no more
            _check_limits(server, example)

        run()
        report = verify(server.ctx.engine)
        assert report.ok, report.findings[:3]
    cli = subprocess.run(
        [sys.executable, "-m", "jifen", "verify", "--db", db_url],
        capture_output=True, text=True, timeout=300,
        env={"JIFEN_SECRET": "test-secret", **__import__("os").environ},
    )  # fmt: skip
    assert cli.returncode == 0, cli.stdout + cli.stderr


def _check_limits(server: Any, example: int) -> None:
    with server.ctx.engine.connect() as conn:
        per_day = conn.execute(
            select(t.lots.c.member_id, func.sum(t.lots.c.points))
            .where(t.lots.c.order_ref.like(f"x{example}-%"))
            .group_by(t.lots.c.member_id)
        ).all()
        caps = dict(conn.execute(select(t.caps.c.cap_key, t.caps.c.used)).all())
        redeemed = conn.execute(
            select(t.entries.c.detail).where(t.entries.c.kind == "redeem")
        ).scalars()
        import json

        by_order: dict[tuple[str, str], int] = defaultdict(int)
        for detail in redeemed:
            d = json.loads(detail)
            by_order[d["merchant_id"], d["order_ref"]] += int(d["points"])
    # every order of an example is paid at one instant, so within one business day; the seed
    # orders of the same day count against the same cap
    for _member, points in per_day:
        assert points <= DAILY_CAP
    assert all(used <= DAILY_CAP for key, used in caps.items() if key.startswith("earn-day:"))
    limit = 4_000 * SHARE_BP // 10_000
    assert all(points <= limit for points in by_order.values()), by_order
