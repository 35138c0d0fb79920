"""The sandbox's control API and fault switches, its transfers, its state directory and its
command: provider outages (5xx, 5xx after the work, connection refused), delayed callbacks and
giving up, 商家转账 and the depository payout, restarts, ``python -m jifen.sandbox``, and parallel
replays of one instruction."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from jifen.sandbox import SandboxServer
from jifen.sandbox._engine import RETRY_SCHEDULE_S
from sandbox_kit import OPERATOR, RESERVE, SHOP_A, SHOP_B, SP, T0, Kit, Receiver, sandbox

APPID = "wx0000000000000001"
ROOT = Path(__file__).parent.parent


@pytest.fixture
def kit(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kit]:
    with sandbox(tmp_path, tmp_path_factory) as k:
        yield k


def _settled(kit: Kit) -> str:
    kit.ok(kit.add_receiver(OPERATOR))
    transaction_id = kit.paid("T00001", 10_000)
    kit.advance(60)
    return transaction_id


def test_a_5xx_outage_answers_system_error_and_does_nothing(kit: Kit) -> None:
    transaction_id = _settled(kit)
    kit.ok(kit.control.post("/sandbox/outage", json={"mode": "5xx", "requests": 2}))
    before = kit.ledger()
    for number in ("S1", "S2"):
        down = kit.split(transaction_id, number, [(OPERATOR, 100)])
        assert down.status_code == 500 and down.json()["code"] == "SYSTEM_ERROR"
    assert kit.ledger() == before
    assert kit.ok(kit.split(transaction_id, "S1", [(OPERATOR, 100)]))["state"] == "PROCESSING"


def test_a_5xx_after_the_work_is_safe_to_replay_with_the_same_number(kit: Kit) -> None:
    transaction_id = _settled(kit)
    kit.ok(kit.control.post("/sandbox/outage", json={"mode": "5xx_after", "requests": 1}))
    lost = kit.split(transaction_id, "S1", [(OPERATOR, 100)])
    assert lost.status_code == 500
    replay = kit.ok(kit.split(transaction_id, "S1", [(OPERATOR, 100)]))
    assert replay["receivers"][0]["amount"] == 100
    assert [m["kind"] for m in kit.ledger()].count("split_hold") == 1


def test_connection_refused_for_a_while_then_the_same_port_again(kit: Kit) -> None:
    kit.ok(kit.control.post("/sandbox/outage", json={"mode": "refuse", "seconds": 1}))

    def refused() -> bool:
        try:
            httpx.get(f"{kit.base_url}/sandbox/clock", timeout=2)
        except httpx.ConnectError:
            return True
        return False

    kit.wait_for(refused)
    kit.wait_for(lambda: not refused())
    assert kit.ok(kit.control.get("/sandbox/clock"))["running"] is False


def test_delayed_callbacks_wait_on_the_sandbox_clock(kit: Kit) -> None:
    kit.faults(notify_delay_s=30)
    with Receiver() as receiver:
        kit.paid("T00001", 100, notify_url=receiver.url)
        kit.advance(29)
        time.sleep(0.3)
        assert receiver.received == []
        kit.advance(1)
        kit.wait_for(lambda: receiver.received)


def _attempts(kit: Kit) -> int:
    return sum(len(n["attempts"]) for n in kit.notifications())


def test_a_callback_answered_500_is_retried_15_times_then_given_up(kit: Kit) -> None:
    with Receiver(statuses=[500] * 100) as receiver:
        kit.paid("T00001", 100, notify_url=receiver.url)
        for attempt, delay_s in enumerate(RETRY_SCHEDULE_S, start=1):
            # the sandbox must have *recorded* the attempt (and so scheduled the next one from
            # its clock) before the clock moves: the receiver's count alone is seen earlier, and
            # a move in between would schedule the retry from the moved clock, one delay late
            kit.wait_for(lambda n=attempt: _attempts(kit) == n)
            assert len(receiver.received) == attempt
            kit.advance(delay_s)
        kit.wait_for(lambda: len(receiver.received) == 16)
        kit.advance(86_400)
        time.sleep(0.3)
        assert len(receiver.received) == 16
    [notification] = kit.notifications()
    assert notification["gave_up"] is True and len(notification["attempts"]) == 16
    assert sum(RETRY_SCHEDULE_S) // 3_600 == 24  # WeChat's "about 24 hours"


def test_merchant_transfers_pay_persons_from_the_payers_balance(kit: Kit) -> None:
    operator = kit.wechat(OPERATOR)
    batch = {
        "appid": APPID,
        "out_batch_no": "BATCH0001",
        "batch_name": "推荐奖励",
        "batch_remark": "三月",
        "total_amount": 300,
        "total_num": 1,
        "transfer_detail_list": [
            {
                "out_detail_no": "DETAIL0001",
                "transfer_amount": 300,
                "transfer_remark": "推荐奖励",
                "openid": "oPromoter01",
            }
        ],
    }
    short = operator.post("/v3/transfer/batches", batch)
    assert short.status_code == 403 and short.json()["code"] == "NOT_ENOUGH"
    kit.ok(kit.control.post(f"/sandbox/merchants/{OPERATOR}/top-up", json={"amount": 500_000}))
    accepted = kit.ok(operator.post("/v3/transfer/batches", batch))
    assert accepted["batch_status"] == "ACCEPTED"
    assert kit.ok(operator.post("/v3/transfer/batches", batch))["batch_id"] == accepted["batch_id"]
    big = batch | {
        "out_batch_no": "BATCH0002",
        "total_amount": 200_000,
        "transfer_detail_list": [batch["transfer_detail_list"][0] | {"transfer_amount": 200_000}],
    }
    assert operator.post("/v3/transfer/batches", big).json()["code"] == "PARAM_ERROR"
    kit.advance(60)
    query = "/v3/transfer/batches/out-batch-no/BATCH0001?need_query_detail=true&offset=0&limit=20"
    found = kit.ok(operator.get(query))
    assert found["transfer_batch"]["batch_status"] == "FINISHED"
    assert found["transfer_detail_list"][0]["detail_status"] == "SUCCESS"
    detail = "/v3/transfer/batches/out-batch-no/BATCH0001/details/out-detail-no/DETAIL0001"
    assert kit.ok(operator.get(detail))["transfer_amount"] == 300
    assert kit.balances()["person:oPromoter01"] == 300
    sp = kit.wechat(SP).post("/v3/transfer/batches", batch)
    assert sp.status_code == 403 and sp.json()["code"] == "NO_AUTH"


def test_the_depository_pays_merchants_from_the_reserve_on_the_platforms_word(kit: Kit) -> None:
    kit.ok(kit.add_receiver(RESERVE))
    transaction_id = kit.paid("T00001", 10_000)
    kit.advance(60)
    kit.ok(kit.split(transaction_id, "S1", [(RESERVE, 2_000)]))
    kit.advance(60)
    payout = {
        "payer_mchid": RESERVE,
        "out_payout_no": "P1",
        "payee_mchid": SHOP_B,
        "amount": 1_500,
        "description": "积分兑付",
    }
    stranger = kit.wechat(OPERATOR).post("/depository/v1/payouts", payout)
    assert stranger.status_code == 403 and stranger.json()["code"] == "NO_AUTH"
    too_much = kit.wechat(SP).post("/depository/v1/payouts", payout | {"amount": 2_001})
    assert too_much.status_code == 403 and too_much.json()["code"] == "NOT_ENOUGH"
    paid = kit.ok(kit.wechat(SP).post("/depository/v1/payouts", payout))
    assert kit.ok(kit.wechat(SP).post("/depository/v1/payouts", payout)) == paid
    found = kit.ok(kit.wechat(SP).get(f"/depository/v1/payouts/P1?payer_mchid={RESERVE}"))
    assert found["state"] == "SUCCESS" and found["payout_id"] == paid["payout_id"]
    balances = kit.balances()
    assert balances[f"{RESERVE}:AVAILABLE"] == 500 and balances[f"{SHOP_B}:BANK"] == 1_500


def test_the_clock_never_goes_backwards_and_runs_when_told(kit: Kit) -> None:
    back = kit.control.put("/sandbox/clock", json={"now": "2026-03-01T00:00:00+00:00"})
    assert back.status_code == 400 and back.json()["code"] == "sandbox.control_invalid"
    kit.ok(kit.control.put("/sandbox/clock", json={"running": True}))
    first = kit.ok(kit.control.get("/sandbox/clock"))["now"]
    time.sleep(0.05)
    assert kit.ok(kit.control.get("/sandbox/clock"))["now"] > first
    missing = kit.control.patch("/sandbox/merchants/1999999999", json={"fee_rate_bp": 0})
    assert missing.status_code == 404 and missing.json()["code"] == "sandbox.not_found"
    bad = kit.control.post("/sandbox/pay", content=b"{not json")
    assert bad.status_code == 400 and bad.json()["code"] == "sandbox.control_invalid"


def test_twenty_parallel_replays_of_one_split_move_money_once(kit: Kit) -> None:
    transaction_id = _settled(kit)
    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(
            pool.map(lambda _: kit.split(transaction_id, "S1", [(OPERATOR, 100)]), range(20))
        )
    assert {a.status_code for a in answers} == {200}
    assert len({a.json()["order_id"] for a in answers}) == 1
    with ThreadPoolExecutor(max_workers=20) as pool:  # 20 × 150 fen against a 2,900 fen headroom
        answers = list(
            pool.map(lambda n: kit.split(transaction_id, f"P{n}", [(OPERATOR, 150)]), range(20))
        )
    accepted = [a for a in answers if a.status_code == 200]
    assert len(accepted) == 19 and {a.status_code for a in answers} == {200, 400}
    holds = [m["amount_fen"] for m in kit.ledger() if m["kind"] == "split_hold"]
    assert sum(holds) == 100 + 19 * 150 <= 3_000


def test_a_restarted_sandbox_keeps_its_keys_records_and_clock(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    with sandbox(tmp_path, tmp_path_factory) as kit:
        transaction_id = kit.paid("T00001", 10_000)
        kit.advance(3_600)
        credentials = kit.credentials
    with SandboxServer(tmp_path / "sandbox") as again:
        creds = json.loads((tmp_path / "sandbox" / "credentials.json").read_text())
        assert {k: v for k, v in creds.items() if "url" not in k} == {
            k: v for k, v in credentials.items() if "url" not in k
        }
        assert again.engine.clock.now() == T0.replace(hour=3)
        found = again.engine.state.transaction_ids[transaction_id]
        assert again.engine.state.transactions[found].trade_state == "SUCCESS"
    assert oct((tmp_path / "sandbox" / "credentials.json").stat().st_mode & 0o777) == "0o600"


def test_python_m_jifen_sandbox_serves_until_sigterm(tmp_path: Path) -> None:
    state = tmp_path / "state"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    command = [
        sys.executable,
        "-m",
        "jifen.sandbox",
        "--port",
        "0",
        "--state",
        str(state),
        "--frozen",
        "--clock-start",
        "2026-03-02T10:00:00+08:00",
    ]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while not (state / "credentials.json").exists():
            assert process.poll() is None and time.monotonic() < deadline, process.stderr
            time.sleep(0.05)
        credentials = json.loads((state / "credentials.json").read_text())
        assert credentials["mchid"] == SP and credentials["public_key_id"].startswith("PUB_KEY_ID_")
        assert Path(credentials["private_key_file"]).exists()
        clock = httpx.get(f"{credentials['base_url']}/sandbox/clock", timeout=10).json()
        assert clock == {"now": "2026-03-02T02:00:00+00:00", "running": False}
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    (state / "state.json").write_text("{broken")
    failed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert failed.returncode == 2 and "error[sandbox.state_invalid]" in failed.stderr
    assert "Traceback" not in failed.stderr
    assert SHOP_A in credentials["roles"]["merchant"]
