"""Issue 11: group commit in a real `jifen serve` process, as a till meets it: parallel orders
over HTTP (two worker processes, so groups also race each other) and then `jifen verify`; and a
SIGKILL of the server while a group waits in its window, which must lose nothing that was
answered 2xx and apply nothing that was not."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from alliance_http import CONSENTS, RULES
from api_server import KYC
from jifen.ledger import _tables as lt
from jifen.store import make_engine
from test_cli import jifen

OPERATOR_KEY = "jfo_group-commit-test-key-0123456789"
START_TIMEOUT_S = 120.0  # liveness bound: two workers start in 30 s+ under a loaded suite


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _serve(db: str, *args: str) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """The server, its log (a JSON line per request) in a file: a pipe nobody reads would fill
    and stop it."""
    port = _free_port()
    log = tempfile.TemporaryFile("w+")  # noqa: SIM115 - closed when the server is gone
    env = {**os.environ, "JIFEN_OPERATOR_KEY": OPERATOR_KEY, "JIFEN_SECRET": "group-commit-test"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "jifen", "serve", "--db", db, "--port", str(port),
         "--jobs-every", "0", *args],
        env=env, stdout=subprocess.DEVNULL, stderr=log, text=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(
                    "jifen serve did not start: " + (proc.stderr.read() if proc.stderr else "")
                )
            time.sleep(0.1)
        yield base, proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.close()


def _client(base: str, token: str) -> httpx.Client:
    return httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60)


def _write(c: httpx.Client, path: str, body: dict[str, Any], key: str | None = None) -> Any:
    r = c.post(path, json=body, headers={"Idempotency-Key": key or uuid.uuid4().hex})
    assert r.status_code in (200, 201), r.text
    return r.json()


def _alliance(base: str, members: int) -> tuple[str, list[str]]:
    """Rules in force now, one merchant and ``members`` members, set up over HTTP."""
    with _client(base, OPERATOR_KEY) as op:
        draft = _write(op, "/v1/rules/drafts", RULES)
        soon = datetime.now(UTC) + timedelta(
            seconds=3
        )  # after its publication, even in a wide window
        _write(op, f"/v1/rules/versions/{draft['number']}/publish",
               {"effective_at": soon.isoformat(), "reason": "开业 launch"})  # fmt: skip
        shop = {"merchant_id": "cafe", "name": "咖啡", "category": "cafe", "kyc": KYC}
        key = _write(op, "/v1/merchants", shop)["api_key"]
        ids = [_write(op, "/v1/members", {"phone": f"1370013{i:04d}", "consents": CONSENTS})
               ["member_id"] for i in range(members)]  # fmt: skip
    time.sleep(max(0.0, (soon - datetime.now(UTC)).total_seconds()) + 0.05)  # rules in force
    return key, ids


def _order(ref: str, member: str) -> dict[str, Any]:
    return {"order_ref": ref, "member_id": member, "amount_fen": 1_000,
            "paid_at": datetime.now(UTC).isoformat()}  # fmt: skip


def _lots(db_url: str) -> set[str]:
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            return set(conn.execute(select(lt.lots.c.order_ref)).scalars())
    finally:
        engine.dispose()


def _in_threads(calls: list[Any]) -> list[Any]:
    results: list[Any] = [None] * len(calls)

    def run(i: int) -> None:
        try:
            results[i] = calls[i]()
        except httpx.TransportError as exc:  # the server died under it
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=120)
    return results


@pytest.mark.slow
def test_parallel_orders_on_two_workers_then_verify_is_clean(db_url: str) -> None:
    with _serve(db_url, "--workers", "2") as (base, _):
        key, members = _alliance(base, 12)
        clients = [_client(base, key) for _ in range(16)]

        def till(t: int) -> list[int]:
            statuses = []
            for n in range(20):  # members shared by every till: groups meet on their rows
                ref = f"t{t}-{n}"
                body = _order(ref, members[(t + n) % len(members)])
                for _ in range(1 + (n % 5 == 0)):  # every fifth sale is sent twice (a retry)
                    r = clients[t].post("/v1/orders", json=body, headers={"Idempotency-Key": ref})
                    statuses.append(r.status_code)
            return statuses

        answers = _in_threads([lambda t=t: till(t) for t in range(16)])
        for c in clients:
            c.close()
    assert all(isinstance(a, list) for a in answers), answers
    assert {s for a in answers for s in a} == {201}
    assert len(_lots(db_url)) == 16 * 20
    result = jifen("verify", "--db", db_url)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_sigkill_mid_window_loses_no_answered_order_and_applies_no_unanswered_one(
    db_url: str, tmp_path: Path
) -> None:
    window = ["--group-window-ms", "1000"]  # a group waits a second for company
    with _serve(db_url, *window) as (base, proc):
        key, members = _alliance(base, 4)
        with _client(base, key) as till:
            answered = _in_threads(
                [lambda i=i: till.post("/v1/orders", json=_order(f"a-{i}", members[i % 4]),
                                       headers={"Idempotency-Key": f"a-{i}"}) for i in range(6)]
            )  # fmt: skip
            assert {r.status_code for r in answered} == {201}
            sent = {f"b-{i}": _order(f"b-{i}", members[i % 4]) for i in range(8)}
            killer = threading.Timer(0.3, lambda: proc.send_signal(signal.SIGKILL))
            killer.start()
            unanswered = _in_threads(
                [lambda k=k, b=b: till.post("/v1/orders", json=b, headers={"Idempotency-Key": k})
                 for k, b in sent.items()]
            )  # fmt: skip
            killer.join()
        proc.wait(timeout=30)
    assert all(isinstance(r, httpx.TransportError) for r in unanswered), unanswered
    assert _lots(db_url) == {f"a-{i}" for i in range(6)}  # answered: all there; the rest: none

    with _serve(db_url) as (base, _), _client(base, key) as till:  # the tills retry
        again = [till.post("/v1/orders", json=b, headers={"Idempotency-Key": k})
                 for k, b in sent.items()]  # fmt: skip
    assert [r.status_code for r in again] == [201] * 8
    assert not any(r.headers.get("Idempotent-Replayed") for r in again)
    assert len(_lots(db_url)) == 14
    result = jifen("verify", "--db", db_url)
    assert result.returncode == 0, result.stdout + result.stderr
