"""Stateful property tests: random ledger histories against an independent in-memory model.

A Hypothesis state machine drives earn / release / void / redeem / refund (both shortfall
policies) / expire / reverse operations, retries of stored keys (same body: the first receipt,
replayed, no effect; another body: ``idempotency.conflict``), retries of refused keys, and small
mixed batches, on a simulated clock that jumps by random days. The same operations go to the
real ``Ledger`` and to ``model_ledger.Model`` (plain dicts, written from the rules alone). After
every step each member's available / pending / debt, each lot's figures and status, and the number
of journal entries must agree; an operation the model refuses must be refused with the same code
and change nothing. Every few steps, and at the end, ``verify`` must pass and its totals
(issued = redeemed + expired + clawed back + outstanding) must equal the model's.

Runs on SQLite (a temp dir per example) and, when JIFEN_TEST_PG is set, on PostgreSQL (a fresh
schema per example). JIFEN_STATEFUL_EXAMPLES / JIFEN_STATEFUL_STEPS enlarge a bug hunt.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import pytest
from hypothesis import HealthCheck, currently_in_test_context, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)
from sqlalchemy import create_engine, func, select, text

from jifen.ledger import (
    Earn,
    Expire,
    Ledger,
    LedgerError,
    Operation,
    Receipt,
    Redeem,
    Refund,
    Release,
    Reverse,
    Shortfall,
    Void,
    verify,
)
from jifen.ledger import _tables as t
from jifen.store import normalize_url
from model_ledger import Model, Refused, entry_id_for

PG_URL = os.environ.get("JIFEN_TEST_PG")
EXAMPLES = int(os.environ.get("JIFEN_STATEFUL_EXAMPLES", "40"))
STEPS = int(os.environ.get("JIFEN_STATEFUL_STEPS", "30"))
VERIFY_EVERY = 8  # steps between full verifications (and always at teardown)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
MEMBERS = ("ana", "bo", "cy")
MERCHANTS = ("tea", "books")
GHOST = "ghost"  # a merchant whose accounts were never opened
NO_SUCH_ID = "f" * 32  # a lot or entry id nobody has
OP_KINDS: dict[type, str] = {
    Earn: "earn",
    Release: "release",
    Void: "void",
    Expire: "expire",
    Redeem: "redeem",
    Refund: "refund",
    Reverse: "reverse",
}

member_st = st.sampled_from(MEMBERS)
merchant_st = st.sampled_from((*MERCHANTS, *MERCHANTS, *MERCHANTS, GHOST))
pick_st = st.integers(-1, 50)  # an index into the candidates; -1 names something unknown
policy_st = st.sampled_from(list(Shortfall))
ARGS: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    "earn": st.fixed_dictionaries(
        {
            "member": member_st,
            "merchant": merchant_st,
            "amount_fen": st.integers(1, 3000),
            "points": st.integers(1, 300),
            "lag": st.integers(0, 3),  # days between payment and the earn reaching the ledger
            "window": st.integers(0, 10),  # return window in days
            "life": st.none() | st.integers(1, 120),  # days from release to expiry
        }
    ),
    "release": st.fixed_dictionaries({"pick": pick_st, "due": st.booleans()}),
    "void": st.fixed_dictionaries({"pick": pick_st}),
    "expire": st.fixed_dictionaries({"pick": pick_st, "due": st.booleans()}),
    "redeem": st.fixed_dictionaries(
        {
            "member": member_st,
            "merchant": merchant_st,
            "mode": st.integers(0, 5),  # all, all + 1, a share (likelier), any number
            "n": st.integers(1, 400),
            "share": st.integers(1, 100),
        }
    ),
    "refund": st.fixed_dictionaries(
        {
            "pick": pick_st,
            "mode": st.integers(0, 3),  # the rest, part of the rest (likelier), any amount
            "n": st.integers(1, 3000),
            "policy": policy_st,
        }
    ),
    "reverse": st.fixed_dictionaries(
        {"pick": pick_st, "of": st.sampled_from(("redeem", "earn", "any"))}
    ),
}


def _fields(op: Operation) -> dict[str, Any]:
    return {f.name: getattr(op, f.name) for f in dataclasses.fields(op) if f.name != "key"}


def _figures(lot: Any) -> dict[str, Any]:
    return {
        "status": lot.status.value,
        "pending": lot.pending,
        "available": lot.available,
        "redeemed": lot.redeemed,
        "expired": lot.expired,
        "refunded_fen": lot.refunded_fen,
        "refund_clawed": lot.refund_clawed,
        "recovered": lot.recovered,
    }


def _event(label: str) -> None:
    if currently_in_test_context():  # the replayed sequences below run outside Hypothesis
        event(label)


def _describe(op: Operation, want: Any) -> str:
    """A coverage label for ``--hypothesis-show-statistics``."""
    kind = OP_KINDS[type(op)]
    if want.replayed:
        return f"{kind} replayed"
    d = want.detail
    if kind == "refund":
        parts = [p for p in ("from_lot", "from_other_lots", "debt_points") if d[p]]
        if d["shortfall_points"] and not d["debt_points"]:
            parts.append("deducted")
        return f"refund ok: {'+'.join(parts) or 'nothing'}"
    if kind == "reverse":
        return f"reverse ok: {want.target}"
    if kind == "release" and d["debt_repaid"]:
        return "release ok: repaid debt"
    if kind == "redeem" and len(d["lots"]) > 1:
        return "redeem ok: several lots"
    return f"{kind} ok"


class LedgerMachine(RuleBasedStateMachine):
    backend: ClassVar[str] = "sqlite"

    def __init__(self) -> None:
        super().__init__()
        self._tmp: str | None = None
        self._schema: str | None = None
        self.ledger = Ledger.open(self._make_store())
        for merchant in MERCHANTS:
            self.ledger.open_merchant(merchant, T0)
        self.model = Model(MERCHANTS)
        self.now = T0
        self.serial = 0
        self.receipts: dict[str, Receipt] = {}  # first receipt of every stored key
        self.done: list[Operation] = []  # operations the ledger applied
        self.failed: list[Operation] = []  # operations it refused (their keys stay free)
        self.checks = 0
        self.healthy = True  # no check has failed (a failed one leaves this False)

    # -- the store ---------------------------------------------------------------------------

    def _make_store(self) -> str:
        if self.backend == "sqlite":
            self._tmp = tempfile.mkdtemp(prefix="jifen-stateful-")
            return f"sqlite:///{self._tmp}/jifen.db"
        assert PG_URL
        self._schema = f"jifen_sm_{uuid.uuid4().hex[:12]}"
        admin = create_engine(normalize_url(PG_URL), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{self._schema}"'))
        admin.dispose()
        sep = "&" if "?" in PG_URL else "?"
        options = f"-csearch_path%3D{self._schema}%20-csynchronous_commit%3Doff"  # conftest.py
        return f"{normalize_url(PG_URL)}{sep}options={options}"

    def _drop_store(self) -> None:
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)
        if self._schema:
            assert PG_URL
            admin = create_engine(normalize_url(PG_URL), isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'DROP SCHEMA "{self._schema}" CASCADE'))
            admin.dispose()

    def teardown(self) -> None:
        try:
            if self.healthy:  # after a failed check the journal is known to disagree already
                self._verify()
        finally:
            self.ledger.engine.dispose()
            self._drop_store()

    # -- building operations from drawn arguments ---------------------------------------------

    def _key(self, kind: str) -> str:
        self.serial += 1
        return f"{kind}-{self.serial}"

    def _pick(self, candidates: list[str], pick: int) -> str:
        return candidates[pick % len(candidates)] if pick >= 0 and candidates else NO_SUCH_ID

    def _lots(self, extra: list[Earn], due: list[str] | None = None) -> list[str]:
        return due if due else [*(entry_id_for(e.key) for e in extra), *self.model.lots]

    def _make(self, kind: str, a: dict[str, Any], extra: list[Earn]) -> Operation:
        """One operation of ``kind``; ``extra`` are the earns earlier in the same batch."""
        key = self._key(kind)
        if kind == "earn":
            paid = self.now - timedelta(days=a["lag"])
            release = paid + timedelta(days=a["window"])
            expires = None if a["life"] is None else release + timedelta(days=a["life"])
            return Earn(
                key,
                a["member"],
                a["merchant"],
                f"order-{self.serial}",
                a["amount_fen"],
                a["points"],
                1,
                paid,
                release,
                expires,
            )
        if kind == "release":
            due = None
            if a["due"]:
                due = [entry_id_for(e.key) for e in extra if e.release_at <= self.now]
                due += self.model.due_releases(self.now)
            return Release(key, self._pick(self._lots(extra, due), a["pick"]))
        if kind == "void":
            return Void(key, self._pick(self._lots(extra), a["pick"]))
        if kind == "expire":
            due = self.model.due_expiries(self.now) if a["due"] else None
            return Expire(key, self._pick(self._lots(extra, due), a["pick"]))
        if kind == "redeem":
            balance = self.model.member_view(a["member"])[0]
            share = max(1, balance * a["share"] // 100)
            points = [
                balance if balance > 0 else a["n"],
                max(balance, 0) + 1,
                share,
                share,
                share,
                a["n"],
            ][a["mode"]]
            return Redeem(key, a["member"], a["merchant"], points, f"spend-{self.serial}")
        if kind == "refund":
            lot_id = self._pick(self._lots(extra), a["pick"])
            lot = self.model.lots.get(lot_id)
            rest = lot.amount_fen - lot.refunded_fen if lot else 0
            if a["mode"] == 0 and rest:
                fen = rest
            elif a["mode"] in (1, 2) and rest:
                fen = 1 + (a["n"] - 1) % rest
            else:
                fen = a["n"]
            return Refund(key, lot_id, fen, a["policy"])
        assert kind == "reverse"
        targets = [w.entry_id for w in self.model.entries.values() if a["of"] in ("any", w.kind)]
        return Reverse(key, self._pick(targets, a["pick"]), "correction")

    # -- running operations on both and comparing ----------------------------------------------

    def _run(self, ops: list[Operation]) -> None:
        self.healthy = False
        self._compare(ops)
        self.healthy = True

    def _compare(self, ops: list[Operation]) -> None:
        items = [(op.key, OP_KINDS[type(op)], _fields(op)) for op in ops]
        refused: Refused | None = None
        try:
            expected = self.model.submit(items, self.now)
        except Refused as exc:
            refused = exc
        try:
            if len(ops) == 1:
                receipts = [self.ledger.submit(ops[0], self.now)]
            else:
                receipts = self.ledger.submit_batch(ops, self.now)
        except LedgerError as exc:
            assert refused is not None, f"ledger refused {exc.code} ({exc}); model accepts {ops}"
            assert exc.code == refused.code, (
                f"ledger refused with {exc.code} ({exc}), model with {refused} for {ops}"
            )
            self.failed.extend(op for op in ops if op.key not in self.receipts)
            _event(f"{'batch' if len(ops) > 1 else OP_KINDS[type(ops[0])]} refused: {exc.code}")
            return
        assert refused is None, f"ledger accepted {ops}; model refuses: {refused}"
        for op, receipt, want in zip(ops, receipts, expected, strict=True):
            assert receipt.entry_id == want.entry_id == entry_id_for(op.key), op
            assert receipt.kind == want.kind, op
            assert receipt.replayed is want.replayed, (op, receipt)
            got = {k: receipt.detail.get(k) for k in want.detail}
            assert got == want.detail, f"{op}: receipt {dict(receipt.detail)}, model {want.detail}"
            _event(_describe(op, want))
            first = self.receipts.get(op.key)
            if first is None:
                self.receipts[op.key] = receipt
                self.done.append(op)
            elif want.replayed:
                assert (receipt.entry_id, receipt.at, receipt.legs, dict(receipt.detail)) == (
                    first.entry_id,
                    first.at,
                    first.legs,
                    dict(first.detail),
                ), f"replay of {op.key} differs from the first receipt"

    # -- rules ---------------------------------------------------------------------------------

    @initialize(earns=st.lists(ARGS["earn"], min_size=1, max_size=6), settle=st.booleans())
    def opening_orders(self, earns: list[dict[str, Any]], settle: bool) -> None:
        """Some paid orders; often their return windows end, so members start with points."""
        for a in earns:
            self._run([self._make("earn", a, [])])
        if settle:
            self.now += timedelta(days=11)
            for lot_id in self.model.due_releases(self.now):
                self._run([Release(self._key("release"), lot_id)])

    @rule(days=st.integers(0, 20), hours=st.sampled_from((0, 0, 0, 6, 12)))
    def advance_clock(self, days: int, hours: int) -> None:
        self.now += timedelta(days=days, hours=hours)

    @rule(days=st.integers(1, 30), batched=st.booleans())
    def nightly_jobs(self, days: int, batched: bool) -> None:
        """The clock moves on; the jobs release and expire what is due, as the ledger lists it."""
        self.now += timedelta(days=days)
        releases = self.ledger.due_releases(self.now)
        assert sorted(releases) == sorted(self.model.due_releases(self.now))
        expiries = self.ledger.due_expiries(self.now)
        ops: list[Operation] = [Release(self._key("release"), i) for i in releases]
        ops += [Expire(self._key("expire"), i) for i in expiries]
        if batched and ops:
            self._run(ops)
        else:
            for op in ops:
                self._run([op])
        assert sorted(self.ledger.due_expiries(self.now)) == sorted(
            self.model.due_expiries(self.now)
        )

    @rule(a=ARGS["earn"])
    def earn(self, a: dict[str, Any]) -> None:
        self._run([self._make("earn", a, [])])

    @rule(a=ARGS["release"])
    def release(self, a: dict[str, Any]) -> None:
        self._run([self._make("release", a, [])])

    @rule(a=ARGS["void"])
    def void(self, a: dict[str, Any]) -> None:
        self._run([self._make("void", a, [])])

    @rule(a=ARGS["expire"])
    def expire(self, a: dict[str, Any]) -> None:
        self._run([self._make("expire", a, [])])

    @rule(a=ARGS["redeem"])
    def redeem(self, a: dict[str, Any]) -> None:
        self._run([self._make("redeem", a, [])])

    @precondition(lambda self: any(self.model.member_view(m)[0] > 0 for m in MEMBERS))
    @rule(a=ARGS["redeem"])
    def redeem_by_a_member_with_points(self, a: dict[str, Any]) -> None:
        a = {**a, "member": next(m for m in MEMBERS if self.model.member_view(m)[0] > 0)}
        self._run([self._make("redeem", a, [])])

    @rule(a=ARGS["refund"])
    def refund(self, a: dict[str, Any]) -> None:
        self._run([self._make("refund", a, [])])

    @precondition(lambda self: self._spent_lots())
    @rule(a=ARGS["refund"])
    def refund_a_spent_order(self, a: dict[str, Any]) -> None:
        """Refund an order whose points were partly spent: recovery from other lots, shortfall."""
        lot_id = self._pick(self._spent_lots(), max(a["pick"], 0))
        op = self._make("refund", {**a, "pick": [*self.model.lots].index(lot_id)}, [])
        self._run([op])

    def _spent_lots(self) -> list[str]:
        """Refundable lots whose points were spent or recovered once; the oddest ones first
        (a redemption undone after the order's refund recovered its points)."""
        lots = self.model.lots
        return sorted(
            (
                i
                for i, lot in lots.items()
                if (lot.spent or lot.recovered) and lot.refunded_fen < lot.amount_fen
            ),
            key=lambda i: lots[i].spent >= lots[i].recovered,
        )

    @precondition(lambda self: any(self.model.member_view(m)[0] > 0 for m in MEMBERS))
    @rule(
        share=st.integers(1, 100),
        fen=st.integers(1, 3000),
        policy=policy_st,
        again=st.none() | policy_st,
    )
    def spend_refund_then_undo(
        self, share: int, fen: int, policy: Shortfall, again: Shortfall | None
    ) -> None:
        """A member spends, an order behind the spent points is partly refunded, then the
        redemption is cancelled (and perhaps the rest of the order refunded after all): the
        refunds' recovery and the undo must stay consistent."""
        member = next(m for m in MEMBERS if self.model.member_view(m)[0] > 0)
        points = max(1, self.model.member_view(member)[0] * share // 100)
        redeem = Redeem(self._key("redeem"), member, MERCHANTS[0], points, "basket")
        self._run([redeem])
        if redeem.key not in self.model.entries:  # refused (by both): nothing to refund
            return
        spent = self.model.entries[redeem.key].draws
        lot = self.model.lots[spent[0][0]]
        rest = lot.amount_fen - lot.refunded_fen
        if rest:
            self._run([Refund(self._key("refund"), lot.lot_id, 1 + (fen - 1) % rest, policy)])
        self._run([Reverse(self._key("reverse"), entry_id_for(redeem.key), "cancelled")])
        rest = lot.amount_fen - lot.refunded_fen
        if again is not None and rest:
            self._run([Refund(self._key("refund"), lot.lot_id, rest, again)])

    @precondition(lambda self: self._undoable())
    @rule(pick=st.integers(0, 10**4))
    def undo_a_redemption(self, pick: int) -> None:
        """Reverse a redemption whose lots are all still spendable (so it must succeed)."""
        undoable = self._undoable()
        self._run([Reverse(self._key("reverse"), undoable[pick % len(undoable)], "cancelled")])

    def _undoable(self) -> list[str]:
        """Redemptions whose lots are all still released; those of refunded orders first."""
        lots = self.model.lots
        return sorted(
            (
                w.entry_id
                for w in self.model.entries.values()
                if w.kind == "redeem"
                and not w.reversed
                and all(lots[i].status == "released" for i, _ in w.draws)
            ),
            key=lambda e: not any(lots[i].recovered for i, _ in self.model.by_id[e].draws),
        )

    @rule(a=ARGS["reverse"])
    def reverse(self, a: dict[str, Any]) -> None:
        self._run([self._make("reverse", a, [])])

    @precondition(lambda self: self.done)
    @rule(pick=st.integers(0, 10**4))
    def retry_same_body(self, pick: int) -> None:
        """A stored key with its body again: the first receipt, replayed, and no effect."""
        op = self.done[pick % len(self.done)]
        before = self.model.totals()
        self._run([op])
        assert self.model.totals() == before

    @precondition(lambda self: self.done)
    @rule(pick=st.integers(0, 10**4), variant=st.integers(0, 1))
    def retry_other_body(self, pick: int, variant: int) -> None:
        """A stored key with another (valid) body: ``idempotency.conflict``, nothing changes."""
        op = self.done[pick % len(self.done)]
        other: Operation
        if isinstance(op, Earn):
            other = (
                dataclasses.replace(op, points=op.points + 1)
                if variant
                else dataclasses.replace(op, order_ref=op.order_ref + "x")
            )
        elif isinstance(op, Release | Void | Expire):
            other_kind = {Release: Void, Void: Expire, Expire: Release}[type(op)]
            other = other_kind(op.key, op.lot_id) if variant else type(op)(op.key, NO_SUCH_ID)
        elif isinstance(op, Redeem):
            other = (
                dataclasses.replace(op, points=op.points + 1)
                if variant
                else dataclasses.replace(op, merchant_id=MERCHANTS[op.merchant_id == MERCHANTS[0]])
            )
        elif isinstance(op, Refund):
            flip = {
                Shortfall.DEDUCT_FROM_REFUND: Shortfall.RECORD_DEBT,
                Shortfall.RECORD_DEBT: Shortfall.DEDUCT_FROM_REFUND,
            }
            other = (
                dataclasses.replace(op, refund_fen=op.refund_fen + 1)
                if variant
                else dataclasses.replace(op, shortfall=flip[op.shortfall])
            )
        else:
            assert isinstance(op, Reverse)
            other = dataclasses.replace(op, reason="another reason")
        with pytest.raises(LedgerError) as caught:
            self.ledger.submit(other, self.now)
        assert caught.value.code == "idempotency.conflict", caught.value
        with pytest.raises(Refused):
            self.model.submit([(other.key, OP_KINDS[type(other)], _fields(other))], self.now)

    @precondition(lambda self: self.failed)
    @rule(pick=st.integers(0, 10**4))
    def retry_refused(self, pick: int) -> None:
        """A refused key was never stored: sending it again is judged afresh (it may pass now)."""
        self._run([self.failed.pop(pick % len(self.failed))])

    @rule(
        a=ARGS["earn"],
        then=st.sampled_from(("", "redeem", "refund")),
        to_debtor=st.booleans(),
    )
    def late_order(self, a: dict[str, Any], then: str, to_debtor: bool) -> None:
        """An order reported after its return window: earned and released in one batch (often
        by a member who owes points, whose release must repay the debt first)."""
        debtors = [m for m in MEMBERS if self.model.debt.get(m)]
        if to_debtor and debtors:
            a = {**a, "member": debtors[0]}
        earn = self._make("earn", {**a, "window": min(a["window"], a["lag"])}, [])
        assert isinstance(earn, Earn)
        ops: list[Operation] = [earn, Release(self._key("release"), entry_id_for(earn.key))]
        if then == "redeem":  # and spent at once
            ops.append(Redeem(self._key("redeem"), earn.member_id, earn.merchant_id, 1, "now"))
        elif then == "refund":  # and refunded at once
            ops.append(Refund(self._key("refund"), entry_id_for(earn.key), earn.amount_fen))
        self._run(ops)

    @rule(data=st.data(), size=st.integers(2, 4))
    def batch(self, data: st.DataObject, size: int) -> None:
        """Several operations in one transaction: they compose in order, or none applies."""
        ops: list[Operation] = []
        extra: list[Earn] = []
        for _ in range(size):
            kind = data.draw(st.sampled_from((*ARGS, "repeat")), label="kind")
            if kind == "repeat":  # the same key twice in one batch (same body: folded)
                if ops:
                    ops.append(ops[data.draw(st.integers(0, len(ops) - 1), label="which")])
                continue
            op = self._make(kind, data.draw(ARGS[kind], label=kind), extra)
            if isinstance(op, Earn):
                extra.insert(0, op)
            ops.append(op)
        if ops:
            self._run(ops)

    # -- invariants ----------------------------------------------------------------------------

    @invariant()
    def books_agree_with_the_model(self) -> None:
        self.healthy = False
        for member in MEMBERS:
            bal = self.ledger.balance(member)
            assert (bal.available, bal.pending, bal.debt) == self.model.member_view(member), (
                f"{member}: ledger (available, pending, debt) = "
                f"{(bal.available, bal.pending, bal.debt)}, model {self.model.member_view(member)}"
            )
            stored = {lot.lot_id: lot for lot in self.ledger.lots_of(member)}
            in_lots = sum(lot.available for lot in stored.values())
            assert bal.available + bal.debt == in_lots and bal.debt >= 0, (
                f"{member}: every available point sits in a lot or is owed, but available "
                f"{bal.available} + debt {bal.debt} ≠ {in_lots} in lots"
            )
            assert set(stored) == {i for i, lot in self.model.lots.items() if lot.member == member}
            for lot_id, lot in stored.items():
                assert _figures(lot) == self.model.lot_view(lot_id), (
                    f"lot {lot_id}: ledger {_figures(lot)}, model {self.model.lot_view(lot_id)}"
                )
        with self.ledger.engine.connect() as conn:
            count = conn.execute(select(func.count()).select_from(t.entries)).scalar_one()
        assert count == len(self.model.entries), "journal entries ≠ operations the model applied"
        self.checks += 1
        if self.checks % VERIFY_EVERY == 0:
            self._verify()
        self.healthy = True

    def _verify(self) -> None:
        report = verify(self.ledger.engine)
        assert report.ok, [f"{f.code}: {f.message} ({f.where()})" for f in report.findings]
        want = self.model.totals()
        assert want["issued"] == (
            want["redeemed"] + want["expired"] + want["clawed_back"] + want["outstanding"]
        )
        got = {k: report.totals.get(k) for k in want}
        assert got == want, f"verify totals {got}, model {want}"


SETTINGS = settings(
    max_examples=EXAMPLES,
    stateful_step_count=STEPS,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


class SQLiteLedgerMachine(LedgerMachine):
    backend = "sqlite"


class PostgreSQLLedgerMachine(LedgerMachine):
    backend = "postgresql"


TestLedgerStatefulSQLite = SQLiteLedgerMachine.TestCase
TestLedgerStatefulSQLite.settings = SETTINGS

TestLedgerStatefulPostgreSQL = pytest.mark.skipif(
    not PG_URL, reason="JIFEN_TEST_PG is not set (CI sets it)"
)(PostgreSQLLedgerMachine.TestCase)
TestLedgerStatefulPostgreSQL.settings = SETTINGS


# -- sequences the machine found, replayed on every run ------------------------------------------

MACHINES = {"sqlite": SQLiteLedgerMachine, "postgresql": PostgreSQLLedgerMachine}
BACKENDS = ["sqlite", "postgresql"] if PG_URL else ["sqlite"]
LOT_A, LOT_B = sorted((entry_id_for("earn-a"), entry_id_for("earn-b")))  # spent in id order


def _earn(key: str, member: str, points: int, fen: int) -> Earn:
    return Earn(key, member, "tea", f"order-{key}", fen, points, 1, T0, T0)


def _owes_yet_holds_points(m: LedgerMachine) -> None:
    """ana owes 10 points and still holds 10 in a lot (a redemption undone after the debt)."""
    m._run([_earn("earn-a", "ana", 10, 100), _earn("earn-b", "ana", 10, 100)])
    m._run([Release("release-a", LOT_A), Release("release-b", LOT_B)])
    m._run([Redeem("spend-1", "ana", "tea", 10, "basket-1")])  # drains LOT_A
    m._run([Redeem("spend-2", "ana", "tea", 10, "basket-2")])  # drains LOT_B
    m._run([Refund("refund-a", LOT_A, 100, Shortfall.RECORD_DEBT)])  # nothing to take: debt 10
    m._run([Reverse("undo-2", entry_id_for("spend-2"), "basket cancelled")])
    assert m.model.member_view("ana") == (0, 0, 10)


SEQUENCES: dict[str, list[Any]] = {
    # A release in the same batch as its earn must repay the member's debt first, as it does
    # when the two are sent one by one (the batch did not read the earner's other lots).
    "release_in_the_earn_batch_repays_debt": [
        _owes_yet_holds_points,
        lambda m: m._run([_earn("earn-c", "ana", 4, 100), Release("rc", entry_id_for("earn-c"))]),
    ],
    # A refund after the redemption of the order's points was undone must not credit the member
    # (recovery went negative); undoing a redemption a refund already settled is refused.
    "undone_redemption_then_refund": [
        lambda m: m._run([_earn("earn-a", "ana", 10, 10)]),
        lambda m: m._run([Release("release-a", entry_id_for("earn-a"))]),
        lambda m: m._run([Redeem("spend-1", "ana", "tea", 10, "basket")]),
        lambda m: m._run([Refund("refund-1", entry_id_for("earn-a"), 5)]),
        lambda m: m._run([Reverse("undo-1", entry_id_for("spend-1"), "basket cancelled")]),
        lambda m: m._run([Refund("refund-2", entry_id_for("earn-a"), 5, Shortfall.RECORD_DEBT)]),
    ],
    # A redemption by a member who has not earned yet is ``points.insufficient``, also when a later
    # operation of the same batch is that member's first earn.
    "redeem_before_first_earn_in_a_batch": [
        lambda m: m._run(
            [Redeem("spend-1", "cy", "tea", 5, "basket"), _earn("earn-1", "cy", 10, 1)]
        ),
    ],
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", sorted(SEQUENCES))
def test_sequence_found_by_the_machine(backend: str, name: str) -> None:
    machine = MACHINES[backend]()
    try:
        for step in SEQUENCES[name]:
            step(machine)
            machine.books_agree_with_the_model()
    finally:
        machine.teardown()
