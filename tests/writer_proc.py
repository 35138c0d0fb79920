"""A ledger writer run as a separate process by test_concurrency.py and test_crash.py.

    python tests/writer_proc.py mixed URL --writer W --ops K --seed S --out FILE --deadline SECONDS
    python tests/writer_proc.py crash URL --pause-at B --pause-size N --pause-when WHEN --deadline S

``mixed``: one of N concurrent writers doing K mixed operations (earn batches, releases when due,
voids, redemptions, refunds with both shortfall policies, expiries, replays of its own and of other
writers' keys, conflicting bodies under used keys) on a shared simulated clock: step ``s`` of every
writer runs at ``T0 + s * TICK``. Some keys are shared on purpose: every writer submits the same
``sh:<step>`` operations at the same step, and a release, void or expiry of a lot always uses the
key ``rel:/void:/exp:<lot>``, so writers racing for the same due lot race on the same key. Business
refusals are counted; any other exception stops the writer with exit code 1. The report (JSON,
written to ``--out``) carries what the parent needs to check the books: the receipt digest of every
key seen, the keys this writer applied fresh, and the net effect of its fresh receipts per account.

``crash``: commits batches of earns in a loop, printing ``COMMITTED <batch>`` after each commit.
Batch ``--pause-at`` stops inside its transaction (``--pause-when``: after the first write
statement, or just before the commit), prints ``PAUSED <entries> <lots>`` (the batch's rows its
own transaction sees) and sleeps until killed (or exits 3 after ``--deadline``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import sys
import time
import traceback
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, event, select
from sqlalchemy.exc import DBAPIError

from jifen.ledger import (
    Earn,
    Expire,
    Ledger,
    LedgerError,
    LotStatus,
    Operation,
    Receipt,
    Redeem,
    Refund,
    Release,
    Shortfall,
    Void,
)
from jifen.ledger import _tables as t
from jifen.ledger import service as ledger_service
from jifen.ledger.chain import utc_text
from jifen.store import make_engine

T0 = datetime(2026, 1, 1, tzinfo=UTC)
TICK = timedelta(hours=2)  # simulated time per step; a writer takes ~650 steps ≈ 54 days
RETURN_WINDOW = timedelta(days=7)
MEMBERS = tuple(f"m{i:02d}" for i in range(40))
MERCHANTS = tuple(f"shop{i}" for i in range(6))
SHARED_EVERY = 10  # every writer submits the same shared operations at these steps
EXPECTED = frozenset(
    {"points.insufficient", "lot.not_due", "lot.invalid_state", "refund.exceeds_order"}
)
CONFLICT = "idempotency.conflict"
NO_SUCH_LOT = "f" * 32


# -- digests shared with the tests ---------------------------------------------------------------


def receipt_digest(
    entry_id: str,
    key: str,
    kind: str,
    at: datetime,
    legs: Sequence[tuple[str, str, int, str | None]],
    detail: Any,
) -> str:
    """What a caller sees of an entry, hashed: a replay must give exactly the first receipt."""
    doc = {
        "id": entry_id,
        "key": key,
        "kind": kind,
        "at": utc_text(at),
        "legs": [list(leg) for leg in legs],
        "detail": detail,
    }
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def digest_of(receipt: Receipt) -> str:
    return receipt_digest(
        receipt.entry_id,
        receipt.key,
        receipt.kind,
        receipt.at,
        [(leg.account, leg.asset.value, leg.amount, leg.lot_id) for leg in receipt.legs],
        dict(receipt.detail),
    )


def stored_digests(conn: Connection) -> dict[str, str]:
    """Digest of every stored entry, by idempotency key, read straight from the tables."""
    legs: dict[str, list[tuple[int, tuple[str, str, int, str | None]]]] = defaultdict(list)
    for row in conn.execute(
        select(t.legs.c.entry_id, t.legs.c.leg_no, t.legs.c.account_id, t.legs.c.asset)
        .add_columns(t.legs.c.amount, t.legs.c.lot_id)
        .order_by(t.legs.c.entry_id, t.legs.c.leg_no)
    ):
        legs[row.entry_id].append(
            (row.leg_no, (row.account_id, row.asset, int(row.amount), row.lot_id))
        )
    out: dict[str, str] = {}
    for row in conn.execute(
        select(t.entries.c.entry_id, t.entries.c.idem_key, t.entries.c.kind)
        .add_columns(t.entries.c.at, t.entries.c.detail)
        .order_by(t.entries.c.entry_id)
    ):
        out[row.idem_key] = receipt_digest(
            row.entry_id,
            row.idem_key,
            row.kind,
            row.at,
            [leg for _, leg in sorted(legs[row.entry_id])],
            json.loads(row.detail),
        )
    return out


def _when(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text.replace("Z", "+00:00"))


def op_from_entry(key: str, kind: str, detail: dict[str, Any]) -> Operation:
    """The operation a stored entry answered, rebuilt from its detail (for cross-writer replays)."""
    if kind == "earn":
        paid, release = _when(detail["paid_at"]), _when(detail["release_at"])
        assert paid is not None and release is not None
        return Earn(
            key,
            detail["member_id"],
            detail["merchant_id"],
            detail["order_ref"],
            detail["amount_fen"],
            detail["points"],
            detail["rule_version"],
            paid,
            release,
            _when(detail["expires_at"]),
        )
    if kind == "redeem":
        return Redeem(
            key, detail["member_id"], detail["merchant_id"], detail["points"], detail["order_ref"]
        )
    if kind == "refund":
        return Refund(
            key, detail["lot_id"], detail["refund_fen"], Shortfall(detail["shortfall_policy"])
        )
    lot_ops: dict[str, Callable[[str, str], Operation]] = {
        "release": Release,
        "void": Void,
        "expire": Expire,
    }
    return lot_ops[kind](key, detail["lot_id"])


def altered(op: Operation) -> Operation:
    """The same key with another body (must be refused with ``idempotency.conflict``)."""
    if isinstance(op, Earn):
        return Earn(
            op.key,
            op.member_id,
            op.merchant_id,
            op.order_ref,
            op.amount_fen,
            op.points + 1,
            op.rule_version,
            op.paid_at,
            op.release_at,
            op.expires_at,
        )
    if isinstance(op, Redeem):
        return Redeem(op.key, op.member_id, op.merchant_id, op.points + 1, op.order_ref)
    if isinstance(op, Refund):
        other = (
            Shortfall.RECORD_DEBT
            if op.shortfall is Shortfall.DEDUCT_FROM_REFUND
            else Shortfall.DEDUCT_FROM_REFUND
        )
        return Refund(op.key, op.lot_id, op.refund_fen, other)
    assert isinstance(op, Release | Void | Expire)
    return type(op)(op.key, NO_SUCH_LOT)


# -- the mixed writer ----------------------------------------------------------------------------


class Unexpected(Exception):
    """Something a correct ledger never does (the writer stops and reports it)."""


class OutOfTime(Exception):
    """The writer's time budget ran out (it stops and reports what it did)."""


class MixedWriter:
    def __init__(self, ledger: Ledger, writer: int, quota: int, seed: int, deadline: float) -> None:
        self.ledger = ledger
        self.deadline = time.monotonic() + deadline
        self.w = writer
        self.quota = quota
        self.seed = seed
        self.rng = random.Random(seed * 1000 + writer)
        # earn batches go to a window of members shared with the neighbouring writers
        self.window = [MEMBERS[(5 * writer + i) % len(MEMBERS)] for i in range(10)]
        self.done = 0  # operations submitted (each op of a batch counts)
        self.step = 0
        self.batches = 0  # submit_batch calls
        self.seconds: Counter[str] = Counter()  # wall time by action
        self.first: dict[str, str] = {}  # key → digest of the first receipt this writer saw
        self.fresh: set[str] = set()
        self.committed: list[Operation] = []  # ops this writer saw applied (fresh or replayed)
        self.committed_keys: set[str] = set()
        self.members_seen: set[str] = set()  # members whose earn this writer saw applied
        self.deltas: Counter[str] = Counter()
        self.effects: Counter[str] = Counter()
        self.fresh_kinds: Counter[str] = Counter()
        self.refused: Counter[str] = Counter()
        self.replays = 0
        self.replays_in_batch = 0
        self.cross_replays = 0
        self.conflicts = 0
        self.retries: Counter[str] = Counter()

    # -- submitting ------------------------------------------------------------------------------

    def now(self) -> datetime:
        return T0 + self.step * TICK

    def submit(self, ops: Sequence[Operation], *, replay: bool = False) -> list[Receipt] | None:
        """Submit a batch; None when refused with an expected business error."""
        self.done += len(ops)
        self.batches += 1
        try:
            receipts = self.ledger.submit_batch(ops, self.now())
        except LedgerError as exc:
            if exc.code in EXPECTED and not replay:
                self.refused[exc.code] += 1
                return None
            raise Unexpected(f"{exc.code} for {[op.key for op in ops]}: {exc}") from exc
        fresh_here: set[str] = set()
        for op, receipt in zip(ops, receipts, strict=True):
            digest = digest_of(receipt)
            first = self.first.setdefault(op.key, digest)
            if first != digest:
                raise Unexpected(f"receipt for {op.key} changed: {receipt}")
            if replay and not receipt.replayed:
                raise Unexpected(f"{op.key} was applied again instead of replayed")
            if receipt.replayed:
                self.replays += 1
                continue
            if op.key in fresh_here:  # the same key twice in one batch: one effect
                continue
            fresh_here.add(op.key)
            if op.key in self.fresh:
                raise Unexpected(f"{op.key} applied fresh twice by one writer")
            self.fresh.add(op.key)
            self._account(receipt)
        for op in ops:
            if op.key not in self.committed_keys:
                self.committed_keys.add(op.key)
                self.committed.append(op)
                if isinstance(op, Earn):
                    self.members_seen.add(op.member_id)
        return receipts

    def _account(self, receipt: Receipt) -> None:
        self.fresh_kinds[receipt.kind] += 1
        for leg in receipt.legs:
            self.deltas[leg.account] += leg.amount
        d = receipt.detail
        if receipt.kind in ("earn", "release", "void", "expire", "redeem"):
            self.effects[receipt.kind] += int(d["points"])
        if receipt.kind == "release":
            self.effects["debt_repaid"] += int(d["debt_repaid"])
        if receipt.kind == "refund":
            self.effects["refund_clawback"] += int(d["clawback_points"])
            self.effects["refund_debt"] += int(d["debt_points"])
            self.effects[f"refund_{d['shortfall_policy']}"] += 1
            self.effects["clawed"] += sum(
                leg.amount for leg in receipt.legs if leg.account == "system:clawback"
            )
        if receipt.kind == "void":
            self.effects["clawed"] += int(d["points"])

    def expect_conflict(self, ops: Sequence[Operation]) -> None:
        self.done += len(ops)
        self.batches += 1
        try:
            self.ledger.submit_batch(ops, self.now())
        except LedgerError as exc:
            if exc.code != CONFLICT:
                raise Unexpected(f"{exc.code} instead of a conflict for {ops[0].key}") from exc
            self.conflicts += 1
            return
        raise Unexpected(f"{[op.key for op in ops]} reused with another body was accepted")

    # -- the workload ----------------------------------------------------------------------------

    def run(self) -> None:
        actions: list[tuple[Callable[[], bool], int]] = [
            (self.earn_batch, 28),
            (self.release_due, 16),
            (self.redeem, 12),
            (self.refund, 8),
            (self.void, 3),
            (self.expire_due, 5),
            (self.replay_own, 10),
            (self.replay_other, 5),
            (self.conflict, 4),
        ]
        funcs, weights = zip(*actions, strict=True)
        while self.done < self.quota:
            if time.monotonic() > self.deadline:
                raise OutOfTime(f"out of time after {self.done} of {self.quota} operations")
            action = self.shared if self.step % SHARED_EVERY == 0 else None
            while True:
                action = action or self.rng.choices(funcs, weights)[0]
                started = time.monotonic()
                acted = action()
                self.seconds[action.__name__] += time.monotonic() - started
                if acted:
                    break
                action = None  # nothing to do for that action right now: pick another
            self.step += 1

    def left(self) -> int:
        return self.quota - self.done

    def earn(
        self, key: str, rng: random.Random, at: datetime, members: Sequence[str] = MEMBERS
    ) -> Earn:
        amount = rng.randint(100, 50_000)
        expires = at + RETURN_WINDOW + timedelta(days=rng.randint(10, 40))
        return Earn(
            key=key,
            member_id=rng.choice(members),
            merchant_id=rng.choice(MERCHANTS),
            order_ref=f"o-{key.replace(':', '-')}",
            amount_fen=amount,
            points=max(1, amount // 100),
            rule_version=rng.randint(1, 3),
            paid_at=at,
            release_at=at + RETURN_WINDOW,
            expires_at=None if rng.random() < 0.1 else expires,
        )

    def shared_ops(self, step: int) -> list[Operation]:
        """The operations every writer submits at shared ``step`` (a function of seed and step).

        Mostly three earns; otherwise a redemption by the member of the latest shared earn,
        whose accounts therefore exist (each writer submitted that earn itself).
        """
        rng = random.Random(f"{self.seed}:shared:{step}")
        at = T0 + step * TICK
        if step == 0 or rng.random() < 0.7:
            return [self.earn(f"sh:{step}:{j}", rng, at) for j in range(3)]
        earlier = self.shared_ops(step - SHARED_EVERY)
        member = earlier[0].member_id if isinstance(earlier[0], Earn | Redeem) else MEMBERS[0]
        points = rng.randint(1, 400)
        return [Redeem(f"sh:{step}:r", member, rng.choice(MERCHANTS), points, f"r-sh-{step}")]

    def shared(self) -> bool:
        """The same operations, submitted by every writer at the same simulated step."""
        self.submit(self.shared_ops(self.step)[: max(1, self.left())])
        return True

    def earn_batch(self) -> bool:
        size = min(self.left(), self.rng.choice((1, 2, 4, 6, 8, 12)))
        ops: list[Operation] = [
            self.earn(f"w{self.w}:e:{self.step}:{j}", self.rng, self.now(), self.window)
            for j in range(size)
        ]
        earlier = [op for op in self.committed if isinstance(op, Earn)]
        if earlier and size > 1 and self.rng.random() < 0.2:  # a retried earn rides along
            ops[-1] = self.rng.choice(earlier)
            self.replays_in_batch += 1
        if size > 2 and self.rng.random() < 0.1:  # the same key twice in one batch
            ops[-2] = ops[0]
        self.submit(ops)
        return True

    def release_due(self) -> bool:
        """The release job: the oldest due lots (which every writer races for) or, half of the
        time, due lots of this writer's window of members."""
        if self.rng.random() < 0.5:
            due = self.ledger.due_releases(self.now(), limit=16)
        else:
            with self.ledger.engine.connect() as conn:
                due = list(
                    conn.execute(
                        select(t.lots.c.lot_id)
                        .where(
                            t.lots.c.status == LotStatus.PENDING.value,
                            t.lots.c.release_at <= self.now(),
                            t.lots.c.member_id.in_(self.window),
                        )
                        .order_by(t.lots.c.release_at, t.lots.c.lot_id)
                        .limit(16)
                    ).scalars()
                )
        if not due:
            return False
        picked = self.rng.sample(due, k=min(len(due), self.rng.randint(1, 12), self.left()))
        self.submit([Release(f"rel:{lot}", lot) for lot in picked])
        return True

    def expire_due(self) -> bool:
        due = self.ledger.due_expiries(self.now(), limit=8)
        if not due:
            return False
        picked = self.rng.sample(due, k=min(len(due), self.rng.randint(1, 6), self.left()))
        self.submit([Expire(f"exp:{lot}", lot) for lot in picked])
        return True

    def _lots(self, member: str, *where: Any) -> list[Any]:
        """Some of a member's lots (the newest 24), read directly: cheaper than ``lots_of``."""
        with self.ledger.engine.connect() as conn:
            return list(
                conn.execute(
                    select(
                        t.lots.c.lot_id, t.lots.c.amount_fen, t.lots.c.refunded_fen, t.lots.c.status
                    )
                    .where(t.lots.c.member_id == member, *where)
                    .order_by(t.lots.c.paid_at.desc())
                    .limit(24)
                )
            )

    def void(self) -> bool:
        lots = self._lots(
            self.rng.choice(MEMBERS),
            t.lots.c.status == LotStatus.PENDING.value,
            t.lots.c.release_at > self.now(),
        )
        if not lots:
            return False
        lot_id = self.rng.choice(lots).lot_id
        self.submit([Void(f"void:{lot_id}", lot_id)])
        return True

    def redeem(self) -> bool:
        member = self.rng.choice(MEMBERS)
        if member not in self.members_seen:
            return False  # a member's accounts exist from their first earn (else account.not_found)
        with self.ledger.engine.connect() as conn:
            available = conn.execute(
                select(t.balances.c.amount).where(
                    t.balances.c.account_id == f"member:{member}:available",
                    t.balances.c.bucket == 0,
                )
            ).scalar_one()
        if self.rng.random() < 0.15 or available <= 0:
            points = max(1, available) + self.rng.randint(0, 50)  # likely refused
        else:
            points = self.rng.randint(1, min(available, 1 + available // 2 + 300))
        op = Redeem(
            f"w{self.w}:rd:{self.step}",
            member,
            self.rng.choice(MERCHANTS),
            points,
            f"r-{self.w}-{self.step}",
        )
        self.submit([op])
        return True

    def refund(self) -> bool:
        lots = self._lots(self.rng.choice(MEMBERS))
        if not lots:
            return False
        lot = self.rng.choice(lots)
        left = lot.amount_fen - lot.refunded_fen
        if left <= 0 or self.rng.random() < 0.1:
            fen = max(left, 0) + self.rng.randint(1, 500)  # refused: more than was paid
        elif self.rng.random() < 0.3:
            fen = left
        else:
            fen = self.rng.randint(1, left)
        policy = self.rng.choice((Shortfall.DEDUCT_FROM_REFUND, Shortfall.RECORD_DEBT))
        self.submit([Refund(f"w{self.w}:rf:{self.step}", lot.lot_id, fen, policy)])
        return True

    def replay_own(self) -> bool:
        if not self.committed:
            return False
        k = min(self.left(), self.rng.choice((1, 2, 4, 8, 12)))
        ops = [self.rng.choice(self.committed) for _ in range(k)]
        self.submit(ops, replay=True)
        return True

    def _stored(self, limit: int = 1) -> list[Operation]:
        """Random entries already in the journal, any writer's, as the operations they answered."""
        probe = f"{self.rng.getrandbits(128):032x}"
        with self.ledger.engine.connect() as conn:
            rows = conn.execute(
                select(t.entries.c.idem_key, t.entries.c.kind, t.entries.c.detail)
                .where(t.entries.c.entry_id >= probe)
                .order_by(t.entries.c.entry_id)
                .limit(limit)
            ).all()
        return [op_from_entry(r.idem_key, r.kind, json.loads(r.detail)) for r in rows]

    def replay_other(self) -> bool:
        ops = self._stored(min(self.left(), self.rng.choice((1, 3, 6))))
        if not ops:
            return False
        self.cross_replays += len(ops)
        self.submit(ops, replay=True)
        return True

    def conflict(self) -> bool:
        op = self.rng.choice(self.committed) if self.committed else None
        if self.rng.random() < 0.4:
            op = next(iter(self._stored()), op)
        if op is None:
            return False
        if isinstance(op, Earn) and self.left() > 1 and self.rng.random() < 0.3:
            fresh = self.earn(f"w{self.w}:cx:{self.step}", self.rng, self.now())
            self.expect_conflict([fresh, altered(fresh)])  # the same key twice, two bodies
        else:
            self.expect_conflict([altered(op)])
        return True

    def report(self) -> dict[str, Any]:
        return {
            "writer": self.w,
            "ops": self.done,
            "steps": self.step,
            "batches": self.batches,
            "seconds_by_action": {k: round(v, 2) for k, v in self.seconds.items()},
            "first": self.first,
            "fresh": sorted(self.fresh),
            "deltas": dict(self.deltas),
            "effects": dict(self.effects),
            "fresh_kinds": dict(self.fresh_kinds),
            "refused": dict(self.refused),
            "replays": self.replays,
            "replays_in_batch": self.replays_in_batch,
            "cross_replays": self.cross_replays,
            "conflicts": self.conflicts,
            "retries": dict(self.retries),
        }


def _count_retries(writer: MixedWriter) -> None:
    """Count the store errors the ledger retried (by SQLSTATE), without changing the decision."""
    decide = ledger_service.retryable

    def counting(exc: DBAPIError) -> bool:
        verdict = decide(exc)
        state = getattr(exc.orig, "sqlstate", None) or type(exc.orig).__name__
        writer.retries[f"{state}:{'retried' if verdict else 'raised'}"] += 1
        return verdict

    ledger_service.retryable = counting  # type: ignore[assignment]


def run_mixed(args: argparse.Namespace) -> int:
    ledger = Ledger(make_engine(args.url, pool_size=1, max_overflow=1))
    writer = MixedWriter(ledger, args.writer, args.ops, args.seed, args.deadline)
    _count_retries(writer)
    started = time.monotonic()
    status, error = 0, None
    try:
        writer.run()
    except OutOfTime as exc:
        status, error = 1, str(exc)
    except Exception:
        status, error = 1, traceback.format_exc()
    report = writer.report() | {
        "error": error,
        "seconds": time.monotonic() - started,
        "cpu_seconds": time.process_time(),
    }
    tmp = f"{args.out}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(report, fh)
    os.replace(tmp, args.out)
    ledger.engine.dispose()
    return status


# -- the crash writer ----------------------------------------------------------------------------

CRASH_MERCHANT = "cafe"
CRASH_MEMBERS = tuple(f"c{i}" for i in range(7))
CRASH_SIZES = (1, 10, 100, 3, 250)


def crash_batch(batch: int, size: int) -> list[Earn]:
    """Batch ``batch`` of the crash writer (the test rebuilds it to know every key and point)."""
    paid = crash_now(batch)
    return [
        Earn(
            key=f"crash:{batch}:{j}",
            member_id=CRASH_MEMBERS[(batch + j) % len(CRASH_MEMBERS)],
            merchant_id=CRASH_MERCHANT,
            order_ref=f"o-{batch}-{j}",
            amount_fen=1000 + 37 * j,
            points=10 + (batch + j) % 9,
            rule_version=1,
            paid_at=paid,
            release_at=paid + RETURN_WINDOW,
            expires_at=paid + timedelta(days=365),
        )
        for j in range(size)
    ]


def crash_size(batch: int) -> int:
    return CRASH_SIZES[batch % len(CRASH_SIZES)]


def crash_now(batch: int) -> datetime:
    return T0 + timedelta(hours=batch)


PAUSE_POINTS = ("first-write", "commit")
"""Where the crash writer stops inside its last batch: after the transaction's first write
statement (member rows changed, nothing else), or when it is about to commit (every row written)."""

_WRITES = ("INSERT", "UPDATE", "WITH", "DELETE")


def run_crash(args: argparse.Namespace) -> int:
    """Hooks the engine's events, not the ledger's internals, so it survives refactoring."""
    engine = make_engine(args.url)
    ledger = Ledger(engine)
    armed = False

    def pause(dbapi_conn: Any) -> None:
        """Report what the open transaction holds, then wait to be killed."""
        cur = dbapi_conn.cursor()
        counts = []
        for sql in (
            f"SELECT count(*) FROM entries WHERE idem_key LIKE 'crash:{args.pause_at}:%'",
            f"SELECT count(*) FROM lots WHERE order_ref LIKE 'o-{args.pause_at}-%'",
        ):
            cur.execute(sql)
            counts.append(str(cur.fetchone()[0]))
        cur.close()
        print(f"PAUSED {' '.join(counts)}", flush=True)
        time.sleep(args.deadline)  # the test kills us here, inside the open transaction
        print("NOT KILLED", flush=True)
        os._exit(3)

    @event.listens_for(engine, "after_cursor_execute")
    def _after_write(conn: Connection, cursor: Any, statement: str, *_: Any) -> None:
        first_write = args.pause_when == "first-write"
        if armed and first_write and statement.lstrip().upper().startswith(_WRITES):
            pause(cursor.connection)

    @event.listens_for(engine, "commit")
    def _before_commit(conn: Connection) -> None:
        if armed and args.pause_when == "commit":
            pause(conn.connection.dbapi_connection)

    batch = 0
    while True:
        if batch == args.pause_at:
            armed = True
            ledger.submit_batch(crash_batch(batch, args.pause_size), crash_now(batch))
            print("NOT PAUSED", flush=True)
            return 4
        ledger.submit_batch(crash_batch(batch, crash_size(batch)), crash_now(batch))
        print(f"COMMITTED {batch}", flush=True)
        batch += 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    sub = parser.add_subparsers(dest="mode", required=True)
    mixed = sub.add_parser("mixed")
    mixed.add_argument("url")
    mixed.add_argument("--writer", type=int, required=True)
    mixed.add_argument("--ops", type=int, required=True)
    mixed.add_argument("--seed", type=int, default=0)
    mixed.add_argument("--out", required=True)
    mixed.add_argument("--deadline", type=float, default=100.0, help="seconds, then give up")
    crash = sub.add_parser("crash")
    crash.add_argument("url")
    crash.add_argument("--pause-at", type=int, required=True)
    crash.add_argument("--pause-size", type=int, default=500)
    crash.add_argument("--pause-when", choices=PAUSE_POINTS, default="commit")
    crash.add_argument("--deadline", type=float, default=60.0)
    args = parser.parse_args(argv)
    return run_mixed(args) if args.mode == "mixed" else run_crash(args)


if __name__ == "__main__":
    sys.exit(main())
