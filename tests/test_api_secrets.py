"""Credentials handed out by the API (merchant keys, member tokens, redemption codes) are shown
once: the idempotency store keeps the response without them, so a replay cannot leak them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api_server import OPERATOR_KEY, T0
from jifen.alliance.merchants import add_operator_key
from jifen.api import create_app
from jifen.app import SimulatedClock, open_alliance
from jifen.store import tables as t

OP = {"Authorization": f"Bearer {OPERATOR_KEY}"}
MERCHANT = {
    "merchant_id": "tea",
    "name": "茶馆",
    "category": "cafe",
    "kyc": {"legal_name": "茶馆有限公司", "licence_no": "91310000MA1FL00000"},
}


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    ctx = open_alliance(f"sqlite:///{tmp_path / 's.db'}", secret="s", clock=SimulatedClock(T0))
    add_operator_key(ctx, OPERATOR_KEY, T0)
    yield TestClient(create_app(ctx))
    ctx.engine.dispose()


def stored_responses(client: TestClient) -> str:
    engine = client.app.state.ctx.engine  # type: ignore[attr-defined]
    with engine.connect() as conn:
        return " ".join(conn.execute(select(t.idempotency.c.response)).scalars())


def test_a_merchant_key_is_shown_once_and_never_stored(client: TestClient) -> None:
    headers = {**OP, "Idempotency-Key": "onboard-tea"}
    first = client.post("/v1/merchants", json=MERCHANT, headers=headers)
    assert first.status_code == 201
    api_key = first.json()["api_key"]
    assert api_key.startswith("jfm_tea_")
    replay = client.post("/v1/merchants", json=MERCHANT, headers=headers)
    assert replay.status_code == 201 and replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json()["api_key"] is None
    assert replay.json()["merchant"] == first.json()["merchant"]
    assert api_key not in stored_responses(client)
    me = client.get("/v1/merchant", headers={"Authorization": f"Bearer {api_key}"})
    assert me.json()["merchant_id"] == "tea"


def test_member_tokens_and_codes_are_not_stored(client: TestClient) -> None:
    member = client.post(
        "/v1/members",
        json={"phone": "13800138000", "consents": {"terms": True, "privacy": True}},
        headers={**OP, "Idempotency-Key": "enrol-1"},
    ).json()["member_id"]
    headers = {**OP, "Idempotency-Key": "token-1"}
    token = client.post(f"/v1/members/{member}/tokens", headers=headers).json()["token"]
    assert client.post(f"/v1/members/{member}/tokens", headers=headers).json()["token"] is None
    code = client.post(
        "/v1/me/redemption-codes",
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "code-1"},
    ).json()["code"]
    assert len(code) == 18
    stored = stored_responses(client)
    assert token not in stored and code not in stored
