"""One clock per store: a store served on a simulated clock keeps it for every process that
opens it, so `jifen jobs run` beside `jifen serve --simulated-clock` closes only the days that
are over on the server's clock, and every order's charge lands in a statement (issue 8, #16)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from api_server import KYC, ApiClient
from jifen.app import ClockMismatch, SimulatedClock, SystemClock, open_alliance
from jifen.ledger import Earn, Ledger
from jifen.store import tables as t

T = datetime(2026, 3, 2, 2, tzinfo=UTC)  # 10:00 Shanghai; the real clock is months later
SECRET = "store-clock-secret"
OPERATOR_KEY = "jfo_store-clock-key-0123456789abcdef"
ENV = {**os.environ, "JIFEN_SECRET": SECRET, "JIFEN_OPERATOR_KEY": OPERATOR_KEY}
RULES = {
    "issue_price": {"fen_per_1000_points": 1200},
    "earn": {"points_per_yuan": 1},
    "pending": {"return_window_days": 7},
    "expiry": {"policy": "rolling", "months": 12},
}
START_TIMEOUT_S = 30.0


def jifen(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "jifen", *args], capture_output=True, text=True, timeout=300, env=ENV
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def jifen_serve(db_url: str, *flags: str) -> Iterator[str]:
    """`jifen serve` as a subprocess (jobs off); yields its base URL once it answers."""
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "jifen", "serve", "--db", db_url, "--port", str(port),
         "--jobs-every", "0", *flags],
        env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail("jifen serve did not start: " + (server.communicate(timeout=10)[1]))
            time.sleep(0.05)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)
        assert server.stderr is not None
        server.stderr.close()
        assert server.stdout is not None
        server.stdout.close()


def _charge(points: int) -> int:
    return -(-points * 1200 // 1000)


def _order(merchant: ApiClient, ref: str, member_id: str, amount_fen: int, at: datetime) -> Any:
    r = merchant.post(
        "/v1/orders",
        json={
            "order_ref": ref,
            "member_id": member_id,
            "amount_fen": amount_fen,
            "paid_at": at.isoformat(),
        },
    )
    assert r.status_code == 201, r.text
    return r.json()


def test_jobs_run_beside_a_simulated_server_keeps_to_its_clock_and_settles_every_charge(
    db_url: str,
) -> None:
    with jifen_serve(db_url, "--simulated-clock", T.isoformat()) as base:
        op = ApiClient(base_url=base, headers={"Authorization": f"Bearer {OPERATOR_KEY}"})
        r = op.post("/v1/rules/drafts", json=RULES)
        assert r.status_code == 201, r.text
        r = op.post("/v1/rules/versions/1/publish", json={"effective_at": T.isoformat(),
                                                          "reason": "开业 launch"})  # fmt: skip
        assert r.status_code == 200, r.text
        r = op.post(
            "/v1/merchants",
            json={"merchant_id": "alpha", "name": "alpha", "category": "cafe", "kyc": KYC},
        )
        assert r.status_code == 201, r.text
        alpha = ApiClient(base_url=base, headers={"Authorization": f"Bearer {r.json()['api_key']}"})
        r = op.post(
            "/v1/members", json={"phone": "13800138000", "consents": {"terms": True,
                                                                       "privacy": True}},
        )  # fmt: skip
        assert r.status_code == 201, r.text
        member_id = r.json()["member_id"]
        first = _order(alpha, "a-1", member_id, 12_300, T)

        # an operator runs the daily jobs by hand, in another process, against the same store
        jobs = jifen("jobs", "run", "--db", db_url)
        assert jobs.returncode == 0, jobs.stderr
        assert "simulated clock" in jobs.stderr and T.isoformat() in jobs.stderr
        assert "no business day left" in jobs.stdout  # 2 March is not over on the store's clock

        later = T + timedelta(hours=3)
        r = op.put("/v1/clock", json={"now": later.isoformat()})
        assert r.status_code == 200, r.text
        second = _order(alpha, "a-2", member_id, 45_600, later)

        r = op.put("/v1/clock", json={"now": (T + timedelta(days=1)).isoformat()})
        assert r.status_code == 200, r.text
        closed = jifen("jobs", "run", "--db", db_url)  # 3 March: the 2nd is over, close it
        assert closed.returncode == 0, closed.stderr
        assert "2026-03-02" in closed.stdout and "2026-03-03" not in closed.stdout

        statements = alpha.get("/v1/statements").json()["items"]
        op.close()
        alpha.close()
    assert [s["business_date"] for s in statements] == ["2026-03-02"]
    (day,) = statements
    assert day["points_issued"] == first["points"] + second["points"]
    assert day["charges_fen"] == _charge(first["points"]) + _charge(second["points"])
    report = json.loads(jifen("verify", "--db", db_url, "--json").stdout)
    assert report["ok"], report["findings"]


def test_a_simulated_clock_is_refused_on_a_store_that_ran_on_real_time(db_url: str) -> None:
    ledger = Ledger.open(db_url)
    now = datetime.now(UTC)
    ledger.open_merchant("tea", now)
    ledger.submit(
        Earn("e1", "ana", "tea", "o1", amount_fen=100, points=1, rule_version=1, paid_at=now,
             release_at=now + timedelta(days=7)),
        now,
    )  # fmt: skip
    ledger.engine.dispose()
    refused = jifen("serve", "--db", db_url, "--simulated-clock", T.isoformat())
    assert refused.returncode == 2
    assert refused.stderr.startswith("error[clock.mismatch]: ")
    assert refused.stderr.strip().count("\n") == 0 and "Traceback" not in refused.stderr
    with pytest.raises(ClockMismatch):
        open_alliance(db_url, secret=SECRET, clock=SimulatedClock(T))
    ctx = open_alliance(db_url, secret=SECRET)
    assert isinstance(ctx.clock, SystemClock)
    with ctx.engine.connect() as conn:
        assert (
            dict(conn.execute(select(t.settings.c.name, t.settings.c.value)).all())["clock"]
            == "real"
        )
    ctx.engine.dispose()


def test_a_simulated_store_resumes_at_its_time_in_every_process(db_url: str) -> None:
    ctx = open_alliance(db_url, secret=SECRET, clock=SimulatedClock(T))
    ctx.clock.set(T + timedelta(days=3))  # type: ignore[attr-defined]
    ctx.clock.set(T + timedelta(days=1))  # type: ignore[attr-defined]  # never backwards
    again = open_alliance(db_url, secret=SECRET)  # no clock: the store's own
    assert isinstance(again.clock, SimulatedClock)
    assert again.clock.now() == T + timedelta(days=3)
    # a simulated clock started earlier resumes at the store's time; a real one is refused
    early = open_alliance(db_url, secret=SECRET, clock=SimulatedClock(T))
    assert early.clock.now() == T + timedelta(days=3)
    with pytest.raises(ClockMismatch) as refused:
        open_alliance(db_url, secret=SECRET, clock=SystemClock())
    assert refused.value.code == "clock.mismatch"
    early.clock.advance(timedelta(hours=5))  # type: ignore[attr-defined]
    assert open_alliance(db_url, secret=SECRET).clock.now() == T + timedelta(days=3, hours=5)
    # in a separate process too, and it says so
    jobs = jifen("jobs", "run", "--db", db_url)
    assert jobs.returncode == 0, jobs.stderr
    assert (T + timedelta(days=3, hours=5)).isoformat() in jobs.stderr
    for c in (ctx, again, early):
        c.engine.dispose()


def test_a_fresh_store_on_the_real_clock_is_marked_real_by_its_first_entry(db_url: str) -> None:
    ctx = open_alliance(db_url, secret=SECRET)
    assert isinstance(ctx.clock, SystemClock)
    now = ctx.clock.now()
    ctx.ledger.open_merchant("tea", now)
    ctx.ledger.submit(
        Earn("e1", "ana", "tea", "o1", amount_fen=100, points=1, rule_version=1, paid_at=now,
             release_at=now + timedelta(days=7)),
        now,
    )  # fmt: skip
    with ctx.engine.connect() as conn:
        mark = conn.execute(
            select(t.settings.c.value).where(t.settings.c.name == "clock")
        ).scalar_one()
    assert mark == "real"
    ctx.engine.dispose()


def test_a_simulated_store_is_handed_to_the_real_clock_once_and_keeps_its_closed_days(
    db_url: str,
) -> None:
    from jifen.app import hand_over_to_real_clock
    from jifen.jobs import run_jobs

    real_now = datetime.now(UTC)
    start = real_now - timedelta(days=3)
    ctx = open_alliance(db_url, secret=SECRET, clock=SimulatedClock(start))
    ctx.ledger.open_merchant("tea", start)
    ctx.ledger.submit(
        Earn("e1", "ana", "tea", "o1", amount_fen=100, points=1, rule_version=1, paid_at=start,
             release_at=start + timedelta(days=7)),
        start,
    )  # fmt: skip
    ahead = SimulatedClock(real_now + timedelta(hours=1))
    ctx.clock.set(ahead.now())  # type: ignore[attr-defined]
    with pytest.raises(ClockMismatch):  # ahead of real time: entries would go back
        hand_over_to_real_clock(ctx, real_now)
    ctx.engine.dispose()

    other = open_alliance(db_url, secret=SECRET)  # still simulated
    assert isinstance(other.clock, SimulatedClock)
    other.engine.dispose()

    ctx2 = open_alliance(db_url, secret=SECRET)
    closed = run_jobs(ctx2)
    assert closed  # the simulated days before its time are closed
    assert hand_over_to_real_clock(ctx2, real_now + timedelta(hours=2)) == ahead.now()
    ctx2.engine.dispose()
    real = open_alliance(db_url, secret=SECRET)
    assert isinstance(real.clock, SystemClock)
    with pytest.raises(ClockMismatch):  # never back to a simulated clock
        open_alliance(db_url, secret=SECRET, clock=SimulatedClock(real_now))
    with pytest.raises(ClockMismatch):  # and handed over only once
        hand_over_to_real_clock(real, real_now + timedelta(hours=3))
    last_closed = closed[-1].business_date
    receipt = real.ledger.submit(  # at a time inside a closed day: booked after it, as before
        Earn("e2", "ana", "tea", "o2", amount_fen=100, points=1, rule_version=1,
             paid_at=start, release_at=start + timedelta(days=7)),
        day_start_of(last_closed),
    )  # fmt: skip
    assert receipt.at == day_start_of(last_closed + timedelta(days=1))
    with real.engine.connect() as conn:
        marks = dict(conn.execute(select(t.settings.c.name, t.settings.c.value)).all())
    assert marks["clock"] == "real" and marks["clock.real_from"] == marks["clock.now"]
    real.engine.dispose()


def day_start_of(day: date) -> datetime:
    from jifen.app.clock import day_start

    return day_start(day)
