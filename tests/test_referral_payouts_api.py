"""Referral payouts over HTTP and at the command line (issue 14): a member registers as a payee
with consent and sees only masks; the operator verifies, runs a batch (idempotency-keyed), lists
batches and downloads the withholding report as JSON or CSV with the names in clear; the CLI
chooses the method, refuses a pass without a provider in one line, and writes the report."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from funds_kit import alliance, member
from jifen.alliance.members import issue_token
from jifen.alliance.merchants import add_operator_key
from jifen.api import create_app
from jifen.app import Context
from jifen.ledger.model import TAX_WITHHELD
from jifen.promoters import config
from payouts_kit import Stand, accrue, balance, id_number, stand_funds
from sandbox_kit import T0
from test_cli import jifen

OPERATOR_KEY = "jfo_payouts-operator-key-0123456789"
NUMBER = id_number("11010519900307123")
BODY = {
    "real_name": "王小明",
    "id_number": NUMBER,
    "account_kind": "wechat_openid",
    "account": "oPayee_Wang_000001",
    "consent_version": "payee-2026-12",
}


@pytest.fixture
def ctx(db_url: str) -> Iterator[Context]:
    found, _ = alliance(db_url)
    try:
        yield found
    finally:
        found.engine.dispose()


def _client(ctx: Context, token: str) -> TestClient:
    client = TestClient(create_app(ctx, funds=stand_funds(Stand())))
    client.headers["Authorization"] = f"Bearer {token}"
    return client


def test_a_member_registers_the_operator_verifies_pays_and_files_the_report(ctx: Context) -> None:
    add_operator_key(ctx, OPERATOR_KEY, T0)
    wang = member(ctx)
    token, _ = issue_token(ctx, wang, T0)
    me, op = _client(ctx, token), _client(ctx, OPERATOR_KEY)
    missing = me.get("/v1/me/payee")
    assert missing.status_code == 404 and missing.json()["code"] == "referral.payee_not_found"
    refused = me.put("/v1/me/payee", json={**BODY, "consent_version": None},
                     headers={"Idempotency-Key": "p0"})  # fmt: skip
    assert refused.json()["code"] == "referral.payee_consent_required"
    bank = me.put("/v1/me/payee", json={**BODY, "account_kind": "bank_card"},
                  headers={"Idempotency-Key": "p1"})  # fmt: skip
    assert bank.status_code == 422 and bank.json()["code"] == "referral.payee_account_unsupported"
    bad = me.put("/v1/me/payee", json={**BODY, "id_number": "110105194912310021"},
                 headers={"Idempotency-Key": "p2"})  # fmt: skip
    assert bad.json()["code"] == "referral.payee_invalid"
    done = me.put("/v1/me/payee", json=BODY, headers={"Idempotency-Key": "p3"})
    assert done.status_code == 200, done.text
    shown = done.json()
    assert shown["name_mask"] == "王**" and not shown["payable"]
    assert NUMBER not in done.text and "oPayee_Wang_000001" not in done.text
    accrue(ctx, wang, "o-1", 1_000_000, T0)
    waiting = me.get("/v1/me/payouts", params={"year": 2026}).json()
    assert (waiting["owed_fen"], waiting["awaiting_verification"]) == (1_000_000, True)

    v = op.post(f"/v1/payees/{wang}/verification", json={"reference": "kyc-vendor:8841"},
                headers={"Idempotency-Key": "v1"})  # fmt: skip
    assert v.status_code == 200 and v.json()["payable"], v.text
    for key in ("r1", "r1", "r2"):  # the same key answers the same; a new key follows the batch
        run = op.post("/v1/referral-payouts/run", headers={"Idempotency-Key": key})
        assert run.status_code == 200, run.text
    assert run.json() == {"batch_id": "RP202603N0001", "state": "succeeded", "lines_paid": 1,
                          "lines_failed": 0}  # fmt: skip
    batches = op.get("/v1/referral-payouts").json()["items"]
    assert [(b["batch_id"], b["total_tax_fen"], b["lines"]) for b in batches] == [
        ("RP202603N0001", 9_000, 1)
    ]
    mine = me.get("/v1/me/payouts", params={"year": 2026}).json()
    assert (mine["gross_fen"], mine["tax_fen"], mine["net_fen"], mine["owed_fen"]) == (
        1_000_000, 9_000, 991_000, 0,
    )  # fmt: skip
    assert mine["months"][0]["lines"][0]["orders"] == ["o-1"]

    report = op.get("/v1/reports/withholding", params={"year": 2026, "month": 3}).json()
    assert report["total_tax_fen"] == balance(ctx, TAX_WITHHELD) == 9_000
    assert report["rows"][0]["id_number"] == NUMBER
    for answer in (
        op.get("/v1/reports/withholding", params={"year": 2026, "format": "csv"}),
        op.get("/v1/reports/withholding", params={"year": 2026}, headers={"Accept": "text/csv"}),
    ):
        assert answer.headers["content-type"].startswith("text/csv")
        rows = list(csv.reader(io.StringIO(answer.text)))
        assert rows[1][:4] == ["2026-03", wang, "王小明", NUMBER]
        assert rows[-1][-2:] == ["90.00", "9910.00"]
    assert me.get("/v1/reports/withholding", params={"year": 2026}).status_code == 403
    assert op.get("/v1/me/payee").status_code == 403


def test_the_cli_chooses_the_method_refuses_without_a_provider_and_writes_the_report(
    tmp_path: Path,
) -> None:
    db = str(tmp_path / "cli.db")
    ctx, _ = alliance(db)
    env = {**os.environ, "JIFEN_SECRET": "funds-secret"}
    try:
        chosen = jifen("referral", "config", "--tax-method", "per-payment", "--db", db, env=env)
        assert chosen.returncode == 0, chosen.stderr
        assert "2026-04" in chosen.stdout and "per_payment" in chosen.stdout
        assert config.method_for(ctx, "2026-04") == "per_payment"
        refused = jifen("referral", "payouts", "run", "--db", db, env=env)
        assert refused.returncode == 2
        assert refused.stderr.startswith("error[payment.provider_required]")
        assert len(refused.stderr.strip().splitlines()) == 1
        out = tmp_path / "w.csv"
        written = jifen("referral", "withholding", "--year", "2026", "--month", "3",
                        "--out", str(out), "--db", db, env=env)  # fmt: skip
        assert written.returncode == 0, written.stderr
        assert out.read_text(encoding="utf-8").splitlines()[-1].startswith("合计 total")
    finally:
        ctx.engine.dispose()
