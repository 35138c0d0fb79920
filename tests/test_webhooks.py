"""The webhook outbox at the service layer, on every store: the signature verifies with the
five lines of docs/webhooks.md, a failing receiver is retried with backoff on the store's clock,
an event committed before a dispatcher dies is delivered after it restarts (the receiver dedupes
on the event id), a refused unit of work leaves no event, and scoping holds."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from jifen.alliance.members import enrol
from jifen.alliance.merchants import Merchant, MerchantStatus, create_merchant
from jifen.alliance.orders import record_order
from jifen.app import Context, GroupCommit, SimulatedClock, open_alliance
from jifen.errors import InvalidRequest, JifenError
from jifen.rules import RuleDocument
from jifen.store import tables as t
from jifen.webhooks import (
    LEASE,
    MAX_ATTEMPTS,
    EventNotAllowed,
    create,
    deliver_due,
    deliveries,
    events,
    rotate_secret,
    schedule,
    signature_header,
)
from webhook_receiver import Receiver, receiving

T0 = datetime(2026, 6, 1, 2, tzinfo=UTC)
SECRET = "webhooks-secret"
DOC = Path(__file__).parent.parent / "docs" / "webhooks.md"
MIDDLE: Callable[[], float] = lambda: 0.5  # noqa: E731 - jitter factor exactly 1


@pytest.fixture
def ctx(db_url: str) -> Iterator[Context]:
    context = open_alliance(db_url, secret=SECRET, clock=SimulatedClock(T0))
    v1 = context.rulebook.draft(RuleDocument(), T0)
    context.rulebook.publish(
        v1.number, effective_at=T0, reason="launch", now=T0, points_outstanding=False
    )
    for merchant_id in ("tea", "film"):
        create_merchant(ctx=context, merchant=Merchant(merchant_id, merchant_id, "cafe",
                        MerchantStatus.ACTIVE), now=T0)  # fmt: skip
    yield context
    context.engine.dispose()


def _member(ctx: Context, phone: str = "13900139000") -> str:
    return enrol(ctx, phone, {"terms": True, "privacy": True}, T0).member_id


def _order(ctx: Context, merchant_id: str, ref: str, member_id: str, **kw: Any) -> None:
    record_order(ctx, merchant_id, order_ref=ref, member_id=member_id, amount_fen=10_000,
                 paid_at=ctx.clock.now(), **kw)  # fmt: skip


def _advance(ctx: Context, delta: timedelta) -> None:
    assert isinstance(ctx.clock, SimulatedClock)
    ctx.clock.advance(delta)


def _doc_verify() -> Callable[..., bool]:
    """The five lines of docs/webhooks.md, run as they are written there."""
    section = DOC.read_text(encoding="utf-8").split("### Verifying the signature", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code is not None
    assert len(code.group(1).strip().splitlines()) == 5, "the page promises five lines"
    scope: dict[str, Any] = {}
    exec(code.group(1), scope)
    verify: Callable[..., bool] = scope["verify"]
    return verify


def test_the_page_s_shell_example_verifies_with_the_same_five_line_snippet() -> None:
    """The page's runnable example (tests/test_docs_shell.py runs it against a real receiver)
    saves the five lines as ``verify.py``: the very same lines, so both runs test one snippet."""
    text = DOC.read_text(encoding="utf-8")
    section = text.split("### Verifying the signature", 1)[1]
    snippet = re.search(r"```python\n(.*?)```", section, re.S)
    saved = re.search(r"cat > verify\.py <<'EOF'\n(.*?)^EOF$", text, re.S | re.M)
    assert snippet is not None and saved is not None
    assert saved.group(1) == snippet.group(1)


def test_a_delivery_verifies_with_the_five_lines_of_the_docs_and_a_forgery_does_not(
    ctx: Context,
) -> None:
    verify = _doc_verify()
    member = _member(ctx)
    with receiving() as receiver:
        sub, secret = create(ctx, "tea", url=receiver.url, events=[events.ORDER_RECORDED])
        _order(ctx, "tea", "o1", member)
        assert deliver_due(ctx).delivered == 1
        (got,) = receiver.requests
        ts, sig = got.headers["Jifen-Timestamp"], got.headers["Jifen-Signature"]
        assert sig.startswith("v1=") and abs(time.time() - int(ts)) < 60
        assert verify(secret, ts, sig, got.body)
        body = json.loads(got.body)
        assert body["id"] == got.headers["Jifen-Event-Id"] and body["type"] == "order.recorded"
        assert body["merchant_id"] == "tea" and body["data"]["order_ref"] == "o1"
        assert body["data"]["points"] == 100 and body["data"]["member_id"] == member
        assert not verify(secret, ts, sig, got.body.replace(b'"o1"', b'"o2"'))  # body changed
        assert not verify("whsec_another", ts, sig, got.body)  # another secret
        old = str(int(time.time()) - 600)  # a recorded delivery played again ten minutes on
        assert not verify(secret, old, signature_header([secret], int(old), got.body), got.body)

        # rotation: for a day both secrets sign, then only the new one
        _, fresh = rotate_secret(ctx, "tea", sub.subscription_id)
        _order(ctx, "tea", "o2", member)
        deliver_due(ctx)
        rotated = receiver.requests[-1]
        args = (rotated.headers["Jifen-Timestamp"], rotated.headers["Jifen-Signature"])
        assert verify(fresh, *args, rotated.body) and verify(secret, *args, rotated.body)
        _advance(ctx, timedelta(hours=24, seconds=1))
        _order(ctx, "tea", "o3", member)
        deliver_due(ctx)
        late = receiver.requests[-1]
        args = (late.headers["Jifen-Timestamp"], late.headers["Jifen-Signature"])
        assert verify(fresh, *args, late.body) and not verify(secret, *args, late.body)


def test_a_failing_receiver_is_retried_with_backoff_on_the_store_clock_until_failed(
    ctx: Context,
) -> None:
    member = _member(ctx)
    with receiving() as receiver:
        receiver.answer = lambda _: 503
        sub, _ = create(ctx, "tea", url=receiver.url, events=[events.ORDER_RECORDED])
        _order(ctx, "tea", "o1", member)
        sent_at = []
        for wait in [timedelta(0), *schedule()]:
            if wait:
                _advance(ctx, wait - timedelta(seconds=1))
                assert deliver_due(ctx, jitter=MIDDLE).attempted == 0, "retried too early"
                _advance(ctx, timedelta(seconds=1))
            result = deliver_due(ctx, jitter=MIDDLE)
            assert result.attempted == 1, wait
            sent_at.append(ctx.clock.now())
        assert result.failed == 1 and len(receiver.requests) == MAX_ATTEMPTS == 13
        assert [r.headers["Jifen-Delivery-Attempt"] for r in receiver.requests] == [
            str(n) for n in range(1, 14)
        ]
        assert len(set(receiver.event_ids())) == 1 and len(set(receiver.bodies())) == 1
        assert timedelta(hours=20) < sent_at[-1] - sent_at[0] < timedelta(hours=30)  # ~a day
        (row,) = deliveries(ctx, "tea", sub.subscription_id, cursor=None, limit=10).items
        assert (row.status, row.attempts, row.last_status_code) == ("failed", 13, 503)
        assert row.next_attempt_at is None and row.last_error == "HTTP 503"
        _advance(ctx, timedelta(days=2))
        assert deliver_due(ctx).attempted == 0  # failed stays failed until replayed


def test_a_receiver_that_recovers_gets_the_event_and_jitter_spreads_the_retries(
    ctx: Context,
) -> None:
    member = _member(ctx)
    with receiving() as receiver:
        receiver.answer = lambda _: 500 if len(receiver.requests) < 3 else 204
        sub, _ = create(ctx, "tea", url=receiver.url, events=[events.ORDER_RECORDED])
        _order(ctx, "tea", "o1", member)
        deliver_due(ctx, jitter=lambda: 0.0)  # the shortest wait: 0.8 × 30 s
        (row,) = deliveries(ctx, "tea", sub.subscription_id, cursor=None, limit=10).items
        assert row.next_attempt_at == ctx.clock.now() + timedelta(seconds=24)
        for _ in range(3):
            _advance(ctx, timedelta(minutes=3))
            deliver_due(ctx, jitter=lambda: 0.999)
        (row,) = deliveries(ctx, "tea", sub.subscription_id, cursor=None, limit=10).items
        assert (row.status, row.attempts, row.last_status_code) == ("delivered", 3, 204)
        assert len(receiver.requests) == 3


def test_an_event_committed_before_the_dispatcher_runs_is_delivered_after_a_restart(
    db_url: str, ctx: Context
) -> None:
    member = _member(ctx)
    with receiving() as receiver:
        create(ctx, "tea", url=receiver.url, events=[events.ORDER_RECORDED])
        _order(ctx, "tea", "o1", member)  # committed; the process "dies" before any pass
        ctx.engine.dispose()
        again = open_alliance(db_url, secret=SECRET)  # the restart: the store's own clock
        try:
            assert deliver_due(again).delivered == 1
            assert deliver_due(again).attempted == 0  # delivered once, not again
        finally:
            again.engine.dispose()
        assert len(receiver.requests) == 1


def test_a_dispatcher_killed_mid_send_loses_nothing_and_the_resend_has_the_same_event_id(
    db_url: str, ctx: Context
) -> None:
    member = _member(ctx)
    with receiving() as receiver:
        create(ctx, "tea", url=receiver.url, events=[events.ORDER_RECORDED])
        _order(ctx, "tea", "o1", member)
        receiver.hold = threading.Event()  # took the request, never answers
        env = {**os.environ, "JIFEN_SECRET": SECRET}
        proc = subprocess.Popen(
            [sys.executable, "-m", "jifen", "webhooks", "deliver", "--db", db_url],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        try:
            assert receiver.arrived.wait(60), proc.stderr.read() if proc.stderr else ""
        finally:
            proc.kill()
            proc.wait(timeout=30)
        receiver.hold.set()
        receiver.hold = None
        assert deliver_due(ctx).attempted == 0  # still held by the dead dispatcher's claim
        _advance(ctx, LEASE)
        assert deliver_due(ctx).delivered == 1
        first, second = receiver.requests
        assert first.headers["Jifen-Event-Id"] == second.headers["Jifen-Event-Id"]
        assert first.body == second.body
        seen: set[str] = set()
        stored = [i for i in receiver.event_ids() if not (i in seen or seen.add(i))]
        assert len(stored) == 1  # the receiver's dedupe on Jifen-Event-Id keeps one


def test_a_unit_of_work_refused_after_its_event_leaves_no_event_and_its_neighbour_keeps_its_own(
    ctx: Context,
) -> None:
    member = _member(ctx)
    create(ctx, None, url="http://127.0.0.1:9/unused", events=[events.ORDER_RECORDED])

    def refused(tx: Any) -> None:
        _order(ctx, "tea", "bad", member, conn=tx)  # its event is written on tx …
        raise InvalidRequest("refused after the event")  # … and rolled back with the request

    group = GroupCommit(ctx)
    try:
        results: list[Any] = []
        threads = [
            threading.Thread(target=lambda w=w: results.append(_run(group, w)))
            for w in (refused, lambda tx: _order(ctx, "film", "good", member, conn=tx))
        ]
        for th in threads:
            th.start()
        for th in threads:
            th.join(timeout=60)
    finally:
        group.close()
    assert sorted(results) == ["ok", "request.invalid"]
    with ctx.engine.connect() as conn:
        rows = conn.execute(select(t.webhook_deliveries.c.body)).all()
    assert [json.loads(r.body)["data"]["order_ref"] for r in rows] == ["good"]
    assert ctx.ledger.lot(_lot_id("tea", "bad")) is None


def _run(group: GroupCommit, work: Callable[[Any], None]) -> str:
    try:
        group.run(work)
    except JifenError as exc:
        return exc.code
    return "ok"


def _lot_id(merchant_id: str, order_ref: str) -> str:
    from jifen.alliance.orders import ledger_key
    from jifen.ledger.chain import entry_id_for

    return entry_id_for(ledger_key("order", merchant_id, order_ref))


def test_a_merchant_receives_only_its_own_events_and_nobody_subscribed_writes_nothing(
    ctx: Context,
) -> None:
    member = _member(ctx)
    _order(ctx, "tea", "before", member)  # nobody subscribed: no outbox row at all
    with ctx.engine.connect() as conn:
        assert conn.execute(select(t.webhook_deliveries)).first() is None
    with receiving("/tea") as tea, receiving("/film") as film, receiving("/op") as op:
        create(ctx, "tea", url=tea.url, events=[events.ORDER_RECORDED])
        create(ctx, "film", url=film.url, events=[events.ORDER_RECORDED])
        create(ctx, None, url=op.url, events=list(events.EVENT_TYPES))
        _order(ctx, "tea", "t1", member)
        _order(ctx, "film", "f1", member)
        _order(ctx, "film", "f2", member)
        assert deliver_due(ctx).delivered == 6
        refs = {
            name: sorted(json.loads(b)["data"]["order_ref"] for b in r.bodies())
            for name, r in (("tea", tea), ("film", film), ("op", op))
        }
        assert refs == {"tea": ["t1"], "film": ["f1", "f2"], "op": ["f1", "f2", "t1"]}
        assert set(tea.event_ids()) < set(op.event_ids())  # one event, one id, for everyone
    with pytest.raises(EventNotAllowed):  # reminders are about members across merchants
        create(ctx, "tea", url=tea.url, events=[events.EXPIRY_REMINDER])


def _receiver_requests(receiver: Receiver) -> list[dict[str, Any]]:
    return [json.loads(b) for b in receiver.bodies()]


def test_the_daily_jobs_send_releases_reminders_and_statements_once_each(ctx: Context) -> None:
    from jifen.jobs import run_jobs

    member = _member(ctx)
    with receiving() as op:
        create(ctx, None, url=op.url, events=list(events.EVENT_TYPES))
        _order(ctx, "tea", "o1", member)
        _advance(ctx, timedelta(days=9))
        run_jobs(ctx)
        run_jobs(ctx)  # closed days are not closed again: no second event
        deliver_due(ctx)
        kinds = sorted(b["type"] for b in _receiver_requests(op))
        assert kinds.count("order.recorded") == 1 and kinds.count("points.released") == 1
        assert kinds.count("statement.closed") == 1  # the day of the order
        released = next(b for b in _receiver_requests(op) if b["type"] == "points.released")
        assert released["data"] == {
            "order_ref": "o1", "member_id": member, "points": 100,
            "expires_at": released["data"]["expires_at"],
        }  # fmt: skip
        assert len(set(op.event_ids())) == len(op.requests)


def test_jifen_webhooks_deliver_and_serves_loop_each_run_a_pass(db_url: str, ctx: Context) -> None:
    from jifen.jobs.scheduler import WebhookLoop

    member = _member(ctx)
    with receiving() as receiver:
        create(ctx, "tea", url=receiver.url, events=[events.ORDER_RECORDED])
        _order(ctx, "tea", "o1", member)
        done = subprocess.run(
            [sys.executable, "-m", "jifen", "webhooks", "deliver", "--db", db_url],
            env={**os.environ, "JIFEN_SECRET": SECRET}, capture_output=True, text=True,
            timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert "delivered 1" in done.stdout and len(receiver.requests) == 1
        _order(ctx, "tea", "o2", member)
        result = WebhookLoop(ctx, interval_s=60).run_once()
        assert result is not None and result.delivered == 1 and len(receiver.requests) == 2


def test_a_url_httpx_cannot_encode_is_its_own_failure_and_the_others_go_out(
    ctx: Context,
) -> None:
    member = _member(ctx)
    with receiving() as receiver:
        bad, _ = create(ctx, None, url="http://a..b/x", events=[events.ORDER_RECORDED])
        create(ctx, "tea", url=receiver.url, events=[events.ORDER_RECORDED])
        _order(ctx, "tea", "o1", member)
        result = deliver_due(ctx)
        assert (result.delivered, result.retrying) == (1, 1) and len(receiver.requests) == 1
        (row,) = deliveries(ctx, None, bad.subscription_id, cursor=None, limit=10).items
        assert row.status == "pending" and row.last_status_code is None and row.last_error
