"""The money path at the command line: the demo pays through the sandbox provider (same seed,
same books, the provider's ids included) and says what the provider moved; the money-path
commands refuse missing or broken credentials in one line."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from test_cli import jifen

PAID = ["--members", "12", "--orders", "80", "--days", "12", "--seed", "5"]


def test_the_demo_pays_through_the_provider_and_reconciles_every_day(tmp_path: Path) -> None:
    tips = []
    for name in ("a.db", "b.db"):
        db = tmp_path / name
        result = jifen("demo", "--db", str(db), *PAID)
        assert result.returncode == 0, result.stderr
        with sqlite3.connect(db) as conn:
            tips.append(conn.execute("select chain_id, height, tip_hash from chains").fetchall())
            collected = conn.execute("select sum(collected_fen) from statements").fetchone()[0]
            paid_out = conn.execute(
                "select sum(fen) from payouts where state = 'succeeded'"
            ).fetchone()[0]
        assert (tmp_path / f"{name}.sandbox" / "credentials.json").exists()
    assert tips[0] == tips[1]  # same seed, same books, hash for hash
    out = result.stdout
    assert "wechatpay (sandbox)" in out
    assert "分账收取发行费 collected by split" in out and collected > 0
    assert "准备金付款 paid out from the reserve" in out and paid_out > 0
    assert "12 days" in out and " 0 breaks" in out


def test_money_commands_refuse_without_usable_credentials(tmp_path: Path) -> None:
    db = str(tmp_path / "cash.db")
    assert (
        jifen(
            "demo", "--db", db, "--members", "3", "--orders", "5", "--days", "2", "--cash"
        ).returncode
        == 0
    )
    cases = {
        "payment.provider_required": ("reconcile", "--date", "2026-01-01", "--db", db),
        "payment.credentials_invalid": (
            "reconcile",
            "--date",
            "2026-01-01",
            "--db",
            db,
            "--provider",
            str(tmp_path / "no"),
        ),
    }
    for code, args in cases.items():
        result = jifen(*args)
        assert result.returncode == 2, (code, result.stderr)
        assert result.stderr.startswith(f"error[{code}]:"), result.stderr
        assert result.stderr.strip().count("\n") == 0 and "Traceback" not in result.stderr
    broken = tmp_path / "broken.json"
    broken.write_text('{"mchid": "1900000001"}')
    result = jifen("funds", "run", "--db", db, "--provider", str(broken))
    assert result.returncode == 2 and result.stderr.startswith("error[payment.credentials_invalid]")
    result = jifen("serve", "--db", db, "--provider", str(broken), "--port", "1")
    assert result.returncode == 2 and result.stderr.startswith("error[payment.credentials_invalid]")


def test_the_server_tells_the_provider_its_own_notify_route(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from fastapi.testclient import TestClient

    from jifen.api import create_app
    from jifen.app import SimulatedClock, open_alliance
    from jifen.cli.funds import open_funds
    from sandbox_kit import T0, sandbox

    with sandbox(tmp_path, tmp_path_factory):
        funds = open_funds(tmp_path / "sandbox" / "credentials.json", "https://jifen.example.com/")
    assert funds.notify_url == "https://jifen.example.com/v1/providers/wechatpay/notify"
    ctx = open_alliance(str(tmp_path / "n.db"), secret="s", clock=SimulatedClock(T0))
    try:
        path = funds.notify_url.removeprefix("https://jifen.example.com")
        r = TestClient(create_app(ctx, funds=funds)).post(path, content=b"{}")
        assert r.status_code == 401 and r.json()["code"] == "payment.notification_refused"
    finally:
        ctx.engine.dispose()
