"""Issue 11: group commit. Requests that arrive together share one transaction and one block, and
each still gets its own answer: good and bad neighbours, retries of one key, orders of one member
against a daily cap. The window is made wide here (half a second) so that every request of a test
lands in one group; the answers must be the ones each request would get alone."""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import Connection, func, select

from alliance_http import RULES, open_alliance_over_http, order_body, post, together
from api_server import problem, served
from jifen.alliance import orders
from jifen.api.auth import KeyCache
from jifen.app import GroupCommit, GroupCommitted, GroupSettings
from jifen.ledger import _tables as lt
from jifen.settlement import verify_books

ONE_WINDOW = GroupSettings(window_s=0.5, max_works=200)
CAPPED = {**RULES, "earn": {"points_per_yuan": 1, "max_points_per_member_per_day": 250}}


def _blocks(engine: Any) -> list[Any]:
    with engine.connect() as conn:
        return conn.execute(select(lt.blocks).order_by(lt.blocks.c.committed_at)).all()


def _lots(engine: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(lt.lots)).scalar_one())


def test_one_window_of_good_bad_retried_and_same_member_orders(db_url: str) -> None:
    with served(db_url, group=ONE_WINDOW) as server:
        a = open_alliance_over_http(server, {"cafe": "cafe"}, rules=CAPPED)
        members = [a.enrol(f"138001381{i:02d}") for i in range(9)]
        capped_member = members.pop()
        cafe = lambda: a.merchant("cafe")  # noqa: E731
        good = [post(cafe, "/v1/orders", json=order_body(f"g-{i}", m, 1_000, a))
                for i, m in enumerate(members)]  # fmt: skip
        bad = [post(cafe, "/v1/orders", json=order_body(f"b-{i}", "m-nobody", 1_000, a))
               for i in range(3)]  # fmt: skip
        retried = [post(cafe, "/v1/orders", headers={"Idempotency-Key": "till-1-sale-9"},
                        json=order_body("r-1", members[0], 2_000, a))] * 5  # fmt: skip
        same = [post(cafe, "/v1/orders", json=order_body(f"s-{i}", capped_member, 10_000, a))
                for i in range(4)]  # fmt: skip
        before = len(_blocks(server.ctx.engine))

        answers = together(good + bad + retried + same)

        g, b, r, s = (answers[:8], answers[8:11], answers[11:16], answers[16:])
        assert [x.status_code for x in g] == [201] * 8, [x.text for x in g]
        assert [x.json()["points"] for x in g] == [10] * 8
        for x in b:
            problem(x, 404, "member.not_found")
        assert {x.status_code for x in r} == {201}
        assert Counter(x.headers.get("Idempotent-Replayed") for x in r) == {None: 1, "true": 4}
        assert {x.json()["order_ref"] for x in r} == {"r-1"}
        assert [x.status_code for x in s] == [201] * 4
        assert sorted(x.json()["points"] for x in s) == [0, 50, 100, 100]  # the cap, to the point

        with a.merchant("cafe") as m:  # each answer is the order as stored, read back alone
            for x in [x for x in g + r[:1] + s if x.json()["points"]]:
                stored = m.get(f"/v1/orders/{x.json()['order_ref']}").json()
                assert stored == {**x.json(), "capped_by": None}  # capped_by: the answer's only

        blocks = _blocks(server.ctx.engine)[before:]
        assert len(blocks) == 1, "one window, one transaction, one block"
        assert blocks[0].entry_count == 8 + 1 + 3
        report = verify_books(server.ctx.engine)
        assert report.ok, report.findings


def _order_work(ctx: Any, member_id: str, ref: str, fail_after: bool) -> Any:
    def work(tx: Connection) -> Any:
        order = orders.record_order(
            ctx, "cafe", order_ref=ref, member_id=member_id, amount_fen=1_000,
            paid_at=ctx.clock.now(), conn=tx,
        )  # fmt: skip
        if fail_after:  # after the ledger wrote its entry: the savepoint must take it back
            raise RuntimeError(f"{ref} fails after writing")
        return order

    return work


def test_a_unit_that_fails_after_writing_leaves_no_trace_in_the_block(db_url: str) -> None:
    with served(db_url) as server:
        a = open_alliance_over_http(server, {"cafe": "cafe"})
        members = [a.enrol(f"139001390{i:02d}") for i in range(10)]
        ctx = server.ctx
        group = GroupCommit(ctx, ONE_WINDOW)
        seen: list[GroupCommitted] = []
        group.observers.append(seen.append)
        before = len(_blocks(ctx.engine))
        barrier = threading.Barrier(len(members))

        def submit(i: int) -> Any:
            barrier.wait()
            try:
                return group.run(_order_work(ctx, members[i], f"w-{i}", fail_after=i % 3 == 0))
            except RuntimeError as exc:
                return exc

        with ThreadPoolExecutor(len(members)) as pool:
            results = list(pool.map(submit, range(len(members))))
        group.close()

        failed = [i for i, x in enumerate(results) if isinstance(x, RuntimeError)]
        assert failed == [0, 3, 6, 9]
        assert all(results[i].points == 10 for i in range(10) if i not in failed)
        assert seen == [GroupCommitted(10, 6, 4, 0, seen[0].seconds)]
        blocks = _blocks(ctx.engine)[before:]
        assert [b.entry_count for b in blocks] == [6]
        assert _lots(ctx.engine) == 6
        with ctx.engine.connect() as conn:  # the block holds seq 0..5, no gaps
            seqs = conn.execute(
                select(lt.entries.c.seq)
                .where(lt.entries.c.chain_id == blocks[0].chain_id)
                .where(lt.entries.c.height == blocks[0].height)
                .order_by(lt.entries.c.seq)
            ).scalars()
            assert list(seqs) == list(range(6))
        report = verify_books(ctx.engine)
        assert report.ok, report.findings


def test_a_closed_committer_refuses_new_work(db_url: str) -> None:
    with served(db_url) as server:
        group = GroupCommit(server.ctx, GroupSettings(window_s=0))
        assert group.run(lambda tx: 7) == 7
        group.close()
        with pytest.raises(RuntimeError, match="closed"):
            group.run(lambda tx: 8)


@pytest.mark.parametrize("window_s, max_works", [(-0.1, 5), (2.0, 5), (0.01, 0), (0.01, 1001)])
def test_group_settings_are_bounded(window_s: float, max_works: int) -> None:
    with pytest.raises(ValueError):
        GroupSettings(window_s=window_s, max_works=max_works)


def test_the_key_cache_forgets_a_key_after_its_time_and_on_clear() -> None:
    """Issue 11: API keys are cached per process (no store read per till request), for a bound
    time; a suspension in this process clears them at once (tests/test_api_authz.py)."""
    cache = KeyCache(ttl_s=0.05)
    cache.put("jfm_k", ("merchant", "cafe"))
    assert cache.get("jfm_k") == ("merchant", "cafe")
    time.sleep(0.06)
    assert cache.get("jfm_k") is None
    cache.put("jfm_k", ("merchant", "cafe"))
    cache.clear()
    assert cache.get("jfm_k") is None
