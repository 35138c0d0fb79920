"""What an operator running the API relies on, over real HTTP on both stores: readiness, metrics,
JSON request logs that never hold a secret, and the failed-authentication rate limit.
"""

from __future__ import annotations

import io
import json
import logging
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import replace
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, text

import api_server
from api_server import KYC, OPERATOR_KEY, SECRET, T0, Server, problem, served
from jifen.api import create_app
from jifen.api.errors import NotReady
from jifen.api.health import READINESS_CHECKS, ReadinessCheck, _head_revisions
from jifen.api.limits import FailedAuthLimiter
from jifen.api.observability import JsonFormatter, ReserveCollector
from jifen.jobs.scheduler import Scheduler
from jifen.settlement import ReserveStatus
from loopback_tls import LOOPBACK_TLS
from serve_kit import jifen_serve

PHONE = "13800138000"
CONSENTS = {"terms": True, "privacy": True}
RULES = {"notice_days": 30, "pending": {"return_window_days": 0}, "redemption": {"min_points": 1}}


class FakeClock:
    """A monotonic clock the test moves by hand (the limiter's window)."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


class StoppedClock:
    """A clock that fails: a job run on it fails inside the jobs, as a store error would."""

    def now(self) -> Any:
        raise RuntimeError("the clock stopped")


@contextmanager
def serving(db_url: str, **app_kwargs: Any) -> Iterator[tuple[Server, FastAPI]]:
    """``served`` with ``create_app(ctx, **app_kwargs)``, and the app itself."""
    apps: list[FastAPI] = []

    def make(ctx: Any) -> FastAPI:
        apps.append(create_app(ctx, **app_kwargs))
        return apps[-1]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(api_server, "create_app", make)
        with served(db_url) as server:
            yield server, apps[0]


# -- readiness ---------------------------------------------------------------------------------


def test_readyz_names_each_check_and_is_503_when_the_schema_is_behind(db_url: str) -> None:
    with serving(db_url) as (server, _), server.client() as anonymous:
        ready = anonymous.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["status"] == "ready"
        assert [(c["name"], c["ok"]) for c in ready.json()["checks"]] == [
            ("store", True), ("migrations", True), ("secret", True),
        ]  # fmt: skip
        with server.ctx.writer.begin() as conn:  # as if the code were newer than the store
            conn.execute(text("UPDATE alembic_version SET version_num = '0002'"))
        behind = problem(anonymous.get("/readyz"), 503, "store.not_ready")
        verdicts = {c["name"]: c["ok"] for c in behind["checks"]}
        assert verdicts == {"store": True, "migrations": False, "secret": True}
        head = ", ".join(_head_revisions())
        assert "0002" in behind["checks"][1]["detail"] and head in behind["checks"][1]["detail"]
        assert anonymous.get("/healthz").status_code == 200  # alive all the same


def test_readyz_is_503_store_unavailable_when_the_store_does_not_answer(
    db_url: str, tmp_path: Any
) -> None:
    unreachable = (
        f"sqlite:///{tmp_path}/no/such/dir/x.db"
        if db_url.startswith("sqlite")
        else "postgresql+psycopg://postgres@127.0.0.1:1/none?connect_timeout=2"
    )
    with serving(db_url) as (server, _), server.client() as anonymous:
        ledger = server.ctx.ledger
        engine, ledger.engine = ledger.engine, create_engine(unreachable)
        try:
            down = problem(anonymous.get("/readyz"), 503, "store.unavailable")
        finally:
            ledger.engine.dispose()
            ledger.engine = engine
        assert [(c["name"], c["ok"]) for c in down["checks"]] == [
            ("store", False), ("migrations", False), ("secret", False),
        ]  # fmt: skip
        assert unreachable not in json.dumps(down)  # no connection string leaks
        assert anonymous.get("/readyz").status_code == 200


def test_readyz_is_503_when_the_store_no_longer_recognises_the_secret(db_url: str) -> None:
    from jifen.app._settings import SECRET_CHECK
    from jifen.store import tables as t

    with serving(db_url) as (server, _), server.client() as anonymous:
        assert anonymous.get("/readyz").status_code == 200
        with server.ctx.writer.begin() as conn:  # as if another secret had sealed the store
            conn.execute(
                t.settings.update().where(t.settings.c.name == SECRET_CHECK).values(value="0" * 64)
            )
        refused = problem(anonymous.get("/readyz"), 503, "store.not_ready")
        assert {c["name"]: c["ok"] for c in refused["checks"]} == {
            "store": True, "migrations": True, "secret": False,
        }  # fmt: skip


def test_a_readiness_check_can_be_added(db_url: str) -> None:
    verdicts = {"ok": True}

    def secret_recognised(ctx: Any) -> str:
        if not verdicts["ok"]:
            raise NotReady("密钥不符 / the secret is not the store's")
        return "密钥正确 / the secret is recognised"

    checks = [*READINESS_CHECKS, ReadinessCheck("secret", secret_recognised)]
    with serving(db_url, readiness_checks=checks) as (server, _), server.client() as anonymous:
        assert [c["name"] for c in anonymous.get("/readyz").json()["checks"]][-1] == "secret"
        verdicts["ok"] = False
        refused = problem(anonymous.get("/readyz"), 503, "store.not_ready")
        assert refused["checks"][-1] == {
            "name": "secret", "ok": False, "detail": "密钥不符 / the secret is not the store's",
        }  # fmt: skip


# -- metrics -----------------------------------------------------------------------------------


def _scrape(server: Server) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with server.operator() as op:
        r = op.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain"), r.text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(r.text)
        for s in family.samples
    }


def _value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def _journey(server: Server) -> dict[str, str]:
    """Rules, a merchant, a member with a phone, an order, a token, a code, a redemption: every
    secret the API hands out or takes in, returned by name."""
    with server.operator() as op:
        assert op.post("/v1/rules/drafts", json=RULES).status_code == 201
        published = op.post(
            "/v1/rules/versions/1/publish", json={"effective_at": T0.isoformat(), "reason": "开业"}
        )
        assert published.status_code == 200, published.text
        keys = {}
        for merchant_id in ("cafe", "cinema"):
            r = op.post(
                "/v1/merchants",
                json={"merchant_id": merchant_id, "name": merchant_id, "category": "cafe",
                      "kyc": KYC},
            )  # fmt: skip
            assert r.status_code == 201, r.text
            keys[merchant_id] = r.json()["api_key"]
    with server.client(keys["cafe"]) as cafe:
        r = cafe.post("/v1/members", json={"phone": PHONE, "consents": CONSENTS})
        assert r.status_code == 201, r.text
        member_id = r.json()["member_id"]
        order = {"order_ref": "o-1", "member_id": member_id, "amount_fen": 50_000}
        r = cafe.post("/v1/orders", json={**order, "paid_at": T0.isoformat()})
        assert r.status_code == 201, r.text
    server.set_clock(T0 + timedelta(days=1))
    with server.operator() as op:
        assert op.post("/v1/jobs/run", json={}).status_code == 200
        r = op.post(f"/v1/members/{member_id}/tokens")
        assert r.status_code == 201, r.text
        token = r.json()["token"]
    with server.client(token) as member:
        assert member.get("/v1/me").json()["available"] > 0
        r = member.post("/v1/me/redemption-codes")
        assert r.status_code == 201, r.text
        code = r.json()["code"]
        # secrets where a careless log would catch them: a query string, a bad request id
        assert member.get("/v1/me/history", params={"cursor": token}).status_code == 422
        assert member.get("/v1/me", headers={"X-Request-Id": PHONE + " x"}).status_code == 200
    with server.client(keys["cinema"]) as cinema:
        r = cinema.post(
            "/v1/redemptions",
            json={"code": code, "points": 10, "order_ref": "t-1", "order_amount_fen": 1_000},
        )
        assert r.status_code == 201, r.text
    with server.client(keys["cafe"][:-4] + "xxxx") as forged:  # a near miss of a real key
        assert forged.get("/v1/merchant").status_code == 401
    return {
        "operator key": OPERATOR_KEY, "cafe key": keys["cafe"], "cinema key": keys["cinema"],
        "token": token, "code": code, "phone": PHONE, "secret": SECRET, "member_id": member_id,
    }  # fmt: skip


def test_metrics_count_requests_by_route_template_and_ledger_batches(db_url: str) -> None:
    with serving(db_url) as (server, _):
        secrets = _journey(server)
        with server.client(secrets["cafe key"]) as cafe:
            for ref in ("nowhere-1", "nowhere-2", secrets["member_id"]):
                assert cafe.get(f"/v1/orders/{ref}").status_code == 404
        with server.client() as anonymous:
            assert anonymous.get("/metrics").status_code == 401
            assert anonymous.get("/no/such/path/123").status_code == 404
        with server.client(secrets["cafe key"]) as cafe:
            assert cafe.get("/metrics").status_code == 403
        samples = _scrape(server)
    count = "jifen_http_requests_total"
    assert _value(samples, count, method="GET", route="/v1/orders/{order_ref}", status="404") == 3
    assert _value(samples, count, method="POST", route="/v1/orders", status="201") == 1
    assert _value(samples, count, method="GET", route="/metrics", status="401") == 1
    assert _value(samples, count, method="GET", route="unrouted", status="404") == 1
    latency = "jifen_http_request_duration_seconds_count"
    assert _value(samples, latency, method="POST", route="/v1/redemptions") == 1
    labels = " ".join(v for (_, ls) in samples for _, v in ls)
    for value in ("nowhere-1", secrets["member_id"], "/no/such", *secrets.values()):
        assert value not in labels, value
    assert _value(samples, "jifen_ledger_batch_operations_count") >= 3  # order, release, redeem
    assert _value(samples, "jifen_ledger_batch_entries_sum") >= 3
    assert _value(samples, "jifen_ledger_batch_commit_seconds_count") >= 3
    assert _value(samples, "jifen_reserve_fen") > 0
    assert _value(samples, "jifen_reserve_liability_fen") > 0
    assert _value(samples, "jifen_reserve_coverage_ratio") >= 1.0
    assert _value(samples, "jifen_points_outstanding") > 0
    assert _value(samples, "process_cpu_seconds_total") > 0


def test_scheduled_job_runs_and_failures_are_counted(db_url: str) -> None:
    with serving(db_url) as (server, app):
        _journey(server)  # closes the first business day over HTTP (not a scheduled run)
        scheduler = Scheduler(server.ctx, interval_s=3600)
        scheduler.observers.append(app.state.metrics.job_run)
        server.clock.set(T0 + timedelta(days=3))
        assert scheduler.run_once().days_closed == 2
        broken = Scheduler(replace(server.ctx, clock=StoppedClock()), interval_s=3600)
        broken.observers.append(app.state.metrics.job_run)
        assert not broken.run_once().ok
        samples = _scrape(server)
    assert _value(samples, "jifen_job_runs_total", outcome="ok") == 1
    assert _value(samples, "jifen_job_runs_total", outcome="failed") == 1
    assert _value(samples, "jifen_job_business_days_closed_total") == 2
    assert _value(samples, "jifen_job_last_success_timestamp_seconds") > 0


def test_reserve_gauges_read_the_store_at_most_once_a_minute() -> None:
    reads: list[int] = []
    clock = FakeClock()

    def read() -> ReserveStatus:
        reads.append(1)
        if len(reads) == 3:
            raise OSError("the store is away")
        return ReserveStatus(reserve_fen=100 * len(reads), outstanding_points=1, liability_fen=50)

    collector = ReserveCollector(read, refresh_s=60, clock=clock)
    values = []
    for step_s in (0, 1, 58, 1, 60, 60):
        clock.now += step_s
        values.append({m.name: m.samples[0].value for m in collector.collect()})
    assert len(reads) == 4  # at t=0, 60, 120 (fails: the last value stays), 180
    assert [v["jifen_reserve_fen"] for v in values] == [100, 100, 100, 200, 200, 400]
    assert values[0]["jifen_reserve_coverage_ratio"] == 2.0


# -- logs --------------------------------------------------------------------------------------


@contextmanager
def captured_logs() -> Iterator[io.StringIO]:
    """Every log record the server writes, at the level and in the format of ``jifen serve``.
    The test's own HTTP client (httpx, httpcore) logs too, in this process: left out."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(lambda record: not record.name.startswith(("httpx", "httpcore")))
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def test_a_full_journey_logs_one_json_line_per_request_and_no_secret(db_url: str) -> None:
    with captured_logs() as stream, serving(db_url) as (server, _):
        secrets = _journey(server)
        with server.client() as anonymous:
            kept = anonymous.get("/healthz", headers={"X-Request-Id": "probe-7"})
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    requests = [line for line in lines if line["logger"] == "jifen.http"]
    assert len(requests) == 16  # one line for each of the journey's 15 requests and the probe
    assert len({line["request_id"] for line in requests}) == 16
    for line in requests:
        assert set(line) >= {"ts", "level", "request_id", "method", "route", "status",
                             "duration_ms"}, line  # fmt: skip
        assert line["route"].startswith("/") or line["route"] == "unrouted", line
    roles = {line.get("role") for line in requests}
    assert {"operator", "merchant", "member", None} <= roles
    probe = [line for line in requests if line["request_id"] == "probe-7"]
    assert [(p["route"], p["status"]) for p in probe] == [("/healthz", 200)]
    assert kept.headers["x-request-id"] == "probe-7"
    text_of_logs = stream.getvalue()
    for name, value in secrets.items():
        if name != "member_id":  # a pseudonymous id, not a secret; it appears in no path here
            assert value not in text_of_logs, f"the {name} was logged"
    assert "cursor=" not in text_of_logs and "?" not in "".join(r["route"] for r in requests)


def test_jifen_serve_logs_json_lines(db_url: str, tmp_path: Any) -> None:
    with jifen_serve(db_url, env={"JIFEN_SECRET": SECRET}) as server:
        headers = {"Authorization": f"Bearer {OPERATOR_KEY}", "X-Request-Id": "serve-1"}
        r = httpx.get(f"{server.base_url}/v1/merchants?limit=5", headers=headers)
        assert r.status_code == 200
    stderr = server.said()
    said = [line for line in stderr.splitlines() if line.strip()]
    # what it runs, for a person, before the JSON lines begin (issue 12); then only JSON
    banner = ["地址 address", "账本 store", "时钟 clock", "日终任务 daily jobs", "短信 SMS"]
    assert [line.split(":")[0] for line in said[: len(banner)]] == banner, stderr
    lines = [json.loads(line) for line in said[len(banner) :]]
    assert lines, stderr
    request = [line for line in lines if line.get("request_id") == "serve-1"]
    assert [(r["route"], r["status"], r["role"]) for r in request] == [
        ("/v1/merchants", 200, "operator")
    ], stderr
    assert any(line["logger"].startswith("uvicorn") for line in lines), stderr
    assert OPERATOR_KEY not in stderr and SECRET not in stderr and "limit=5" not in stderr


# -- the failed-authentication rate limit --------------------------------------------------------


def test_an_address_that_keeps_failing_to_authenticate_is_told_to_wait(db_url: str) -> None:
    clock = FakeClock()
    limiter = FailedAuthLimiter(max_failures=5, window_s=60, clock=clock)
    attacker, neighbour = {"X-Forwarded-For": "203.0.113.7"}, {"X-Forwarded-For": "203.0.113.8"}
    with serving(db_url, auth_limiter=limiter) as (server, _):
        with server.client("jfm_cafe_guessed-key") as forged:
            for _ in range(5):
                problem(forged.get("/v1/merchant", headers=attacker), 401, "auth.required")
            clock.now += 30
            refused = forged.get("/v1/merchant", headers=attacker)
        body = problem(refused, 429, "auth.rate_limited")
        assert refused.headers["retry-after"] == "30" and "30" in body["detail"]
        assert refused.headers["cache-control"] == "no-store"
        with server.operator() as op:
            good = op.get("/v1/merchants", headers=attacker)  # a good key too: no oracle
            problem(good, 429, "auth.rate_limited")
            assert op.get("/v1/merchants", headers=neighbour).status_code == 200
            assert op.get("/v1/merchants").status_code == 200  # the proxy's own address
        with server.client() as anonymous:  # public reads are never limited
            assert anonymous.get("/v1/public/rules/history", headers=attacker).status_code == 200
        clock.now += 30  # the oldest failure leaves the window
        with server.operator() as op:
            assert op.get("/v1/merchants", headers=attacker).status_code == 200


def test_the_rate_limit_holds_under_concurrent_bad_credentials(db_url: str) -> None:
    limiter = FailedAuthLimiter(max_failures=10, window_s=60, clock=FakeClock())
    with serving(db_url, auth_limiter=limiter) as (server, _):

        def attempt(i: int) -> int:
            headers = {"Authorization": f"Bearer jfm_x_forged-{i}"}
            with httpx.Client(base_url=server.base_url, timeout=30, verify=LOOPBACK_TLS) as c:
                return c.get("/v1/orders", headers=headers).status_code

        with ThreadPoolExecutor(max_workers=25) as pool:
            statuses = list(pool.map(attempt, range(50)))
        assert set(statuses) <= {401, 429} and statuses.count(401) >= 10, statuses
        assert statuses.count(429) >= 50 - 10 - 25, statuses  # at most one burst slips through
        with server.operator() as op:
            problem(op.get("/v1/orders"), 429, "auth.rate_limited")
    assert limiter.tracked() == 1 and limiter.blocked() == 1


def test_the_limiter_forgets_the_least_recent_address_first_and_is_thread_safe() -> None:
    clock = FakeClock()
    limiter = FailedAuthLimiter(max_failures=3, window_s=60, max_addresses=100, clock=clock)
    errors: list[BaseException] = []

    def hammer(worker: int) -> None:
        try:
            for i in range(500):
                address = f"10.{worker}.{i % 50}.1"
                limiter.failed(address)
                limiter.retry_after_s(address)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=hammer, args=(w,)) for w in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors and limiter.tracked() == 100
    for _ in range(3):
        limiter.failed("198.51.100.1")
    assert limiter.retry_after_s("198.51.100.1") == 60
    clock.now += 59.5
    assert limiter.retry_after_s("198.51.100.1") == 1
    clock.now += 0.5
    assert limiter.retry_after_s("198.51.100.1") is None
    assert limiter.tracked() <= 100
