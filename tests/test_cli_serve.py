"""`jifen serve` and `jifen jobs run` as an operator uses them, on the demo's store."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from serve_kit import jifen_serve
from test_cli import jifen

SMALL = ["--members", "20", "--orders", "120", "--days", "40", "--cash"]
OPERATOR_KEY = "jfo_serve-test-key-0123456789abc"
SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    db = str(tmp_path_factory.mktemp("serve") / "demo.db")
    result = jifen("demo", "--db", db, *SMALL)
    assert result.returncode == 0, result.stderr
    return db


def test_serve_answers_public_rules_and_guards_the_rest(demo_db: str) -> None:
    with jifen_serve(demo_db, operator_key=OPERATOR_KEY) as server:
        base = server.base_url
        history = httpx.get(f"{base}/v1/public/rules/history").json()
        assert [v["number"] for v in history] == [1, 3]  # the refused draft (2) stays a draft
        assert history[1]["reason"] and history[1]["diff"]
        assert httpx.get(f"{base}/v1/merchants").status_code == 401
        merchants = httpx.get(
            f"{base}/v1/merchants", headers={"Authorization": f"Bearer {OPERATOR_KEY}"}
        ).json()
        assert {m["merchant_id"] for m in merchants["items"]} == {
            "books", "cafe", "cinema", "fuel", "market",
        }  # fmt: skip
        assert "/v1/orders" in httpx.get(f"{base}/openapi.json").json()["paths"]
    said = server.said()
    # before its JSON logs: the address, the store, the clock and its time, the jobs' schedule
    assert f"地址 address: {base} (OpenAPI at {base}/docs" in said
    assert f"账本 store: sqlite:///{demo_db}" in said
    assert "时钟 clock: real 真实, now 20" in said
    assert "日终任务 daily jobs: off (--jobs-every 0)" in said


def test_jobs_run_on_the_demo_store_runs_on_the_real_clock_with_nothing_left_to_close(
    demo_db: str,
) -> None:
    """The demo's simulated days end today and its store is handed to the real clock: every day
    before today is closed already, and today is not over."""
    today = datetime.now(SHANGHAI).date()
    future = jifen("jobs", "run", "--db", demo_db, "--until", today.isoformat())
    assert future.returncode == 2
    assert future.stderr.startswith("error[jobs.until_in_future]")
    assert str(today - timedelta(days=1)) in future.stderr  # the last day that can be closed
    assert "simulated clock" not in future.stderr and "Traceback" not in future.stderr
    again = jifen("jobs", "run", "--db", demo_db)
    assert again.returncode == 0, again.stderr
    assert "simulated clock" not in again.stderr and "no business day left" in again.stdout
    assert jifen("verify", "--db", demo_db).returncode == 0


def test_jobs_run_needs_an_existing_store(tmp_path: Path) -> None:
    missing = jifen("jobs", "run", "--db", str(tmp_path / "none.db"))
    assert missing.returncode == 2 and missing.stderr.startswith("error[store.unavailable]")
