"""Tamper evidence: change one stored value with raw SQL and ``verify`` names what was touched.

A small ledger is built through the public API (earns, a release, redemptions, a partial refund,
a manual entry, a reversal: eight blocks). Then one value is changed behind the ledger's back, the
way someone with write access to the database might, and the first finding of ``verify`` must
carry the expected code and point at the right entry and/or block (lane and height): that is what
an auditor reads first. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import ColumnElement, Connection, Engine, and_, delete, insert, select, update

from jifen.ledger import (
    Asset,
    Earn,
    Finding,
    Ledger,
    Leg,
    Operation,
    Post,
    Redeem,
    Refund,
    Release,
    Report,
    Reverse,
    verify,
)
from jifen.ledger import _tables as t
from jifen.ledger import chain as chain_rules
from jifen.ledger._rows import load_entries

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)
FORGED = "f" * 64


@dataclass(frozen=True)
class Books:
    """Entry ids by name, and the (lane, height) of the block holding each."""

    ids: dict[str, str]
    blocks: dict[str, tuple[int, int]]

    def at(self, name: str) -> tuple[int, int]:
        return self.blocks[name]


def build(ledger: Ledger) -> Books:
    ledger.open_merchant("tea", T0)
    ledger.open_merchant("books", T0)
    week = T0 + 7 * DAY

    def earn(key: str, member: str, paid: datetime = T0) -> Earn:
        return Earn(key, member, "tea", f"order-{key}", 10_000, 100, 1, paid, paid + 7 * DAY)

    steps: list[tuple[list[str], datetime, list[Operation]]] = [
        (["earn_a", "earn_b"], T0, [earn("a", "ana"), earn("b", "bo")]),
        (["release_a"], week, [Release("release-a", chain_rules.entry_id_for("a"))]),
        (["redeem"], week, [Redeem("spend-1", "ana", "books", 30, "pos-1")]),
        (["refund_b"], week, [Refund("refund-b", chain_rules.entry_id_for("b"), 5_000)]),
        (
            ["post"],
            week,
            [
                Post(
                    "settle-1",
                    (
                        Leg("system:clearing", Asset.CNY, -900),
                        Leg("merchant:tea:cny", Asset.CNY, 900),
                    ),
                    "T+1",
                )
            ],
        ),
        (["redeem2"], week, [Redeem("spend-2", "ana", "books", 10, "pos-2")]),
        (["reverse"], week, [Reverse("undo-2", chain_rules.entry_id_for("spend-2"), "till")]),
        (["earn_c"], week, [earn("c", "cy", week)]),
    ]
    ids: dict[str, str] = {}
    for names, now, ops in steps:
        receipts = ledger.submit_batch(ops, now)
        ids.update({name: r.entry_id for name, r in zip(names, receipts, strict=True)})
    with ledger.engine.connect() as conn:
        rows = conn.execute(
            select(t.entries.c.entry_id, t.entries.c.chain_id, t.entries.c.height)
        ).all()
    where = {r.entry_id: (r.chain_id, r.height) for r in rows}
    return Books(ids, {name: where[entry_id] for name, entry_id in ids.items()})


@pytest.fixture
def books(ledger: Ledger) -> Books:
    built = build(ledger)
    report = verify(ledger.engine)
    assert report.ok, report.findings
    assert report.blocks == 8 and report.entries == 9
    return built


def first_finding(engine: Engine) -> tuple[Report, Finding]:
    report = verify(engine)
    assert not report.ok, "verify did not notice"
    return report, report.findings[0]


# -- tampering, one value at a time ------------------------------------------------------------

Tamper = Callable[[Connection, Books], None]


def _leg_amount(conn: Connection, b: Books) -> None:
    conn.execute(
        update(t.legs)
        .where(t.legs.c.entry_id == b.ids["earn_b"], t.legs.c.leg_no == 1)
        .values(amount=t.legs.c.amount + 1)
    )


def _leg_account(conn: Connection, b: Books) -> None:
    conn.execute(
        update(t.legs)
        .where(
            t.legs.c.entry_id == b.ids["redeem"], t.legs.c.account_id == "merchant:books:accepted"
        )
        .values(account_id="merchant:tea:accepted")
    )


def _leg_asset(conn: Connection, b: Books) -> None:
    conn.execute(
        update(t.legs)
        .where(t.legs.c.entry_id == b.ids["post"], t.legs.c.leg_no == 0)
        .values(asset="POINTS")
    )


def _leg_deleted(conn: Connection, b: Books) -> None:
    conn.execute(
        delete(t.legs).where(t.legs.c.entry_id == b.ids["release_a"], t.legs.c.leg_no == 1)
    )


def _entry_hash(conn: Connection, b: Books) -> None:
    conn.execute(
        update(t.entries)
        .where(t.entries.c.entry_id == b.ids["release_a"])
        .values(entry_hash=FORGED)
    )


def _entry_detail(conn: Connection, b: Books) -> None:
    row = conn.execute(
        select(t.entries.c.detail).where(t.entries.c.entry_id == b.ids["earn_a"])
    ).one()
    assert '"order_ref":"order-a"' in row.detail
    conn.execute(
        update(t.entries)
        .where(t.entries.c.entry_id == b.ids["earn_a"])
        .values(detail=row.detail.replace('"order_ref":"order-a"', '"order_ref":"order-z"'))
    )


def _entry_time(conn: Connection, b: Books) -> None:
    conn.execute(
        update(t.entries).where(t.entries.c.entry_id == b.ids["refund_b"]).values(at=T0 + 6 * DAY)
    )


def _entry_key(conn: Connection, b: Books) -> None:
    conn.execute(
        update(t.entries).where(t.entries.c.entry_id == b.ids["redeem"]).values(idem_key="spend-9")
    )


def _entry_reverses(conn: Connection, b: Books) -> None:
    conn.execute(
        update(t.entries).where(t.entries.c.entry_id == b.ids["reverse"]).values(reverses=None)
    )


def _entry_deleted(conn: Connection, b: Books) -> None:
    conn.execute(delete(t.legs).where(t.legs.c.entry_id == b.ids["earn_b"]))
    conn.execute(delete(t.entries).where(t.entries.c.entry_id == b.ids["earn_b"]))


def _block(b: Books, name: str) -> ColumnElement[bool]:
    """The block holding entry ``name``."""
    lane, height = b.at(name)
    return and_(t.blocks.c.chain_id == lane, t.blocks.c.height == height)


def _block_hash(conn: Connection, b: Books) -> None:
    conn.execute(update(t.blocks).where(_block(b, "redeem")).values(block_hash=FORGED))


def _block_time(conn: Connection, b: Books) -> None:
    conn.execute(update(t.blocks).where(_block(b, "post")).values(committed_at=T0))


def _block_prev(conn: Connection, b: Books) -> None:
    conn.execute(update(t.blocks).where(_block(b, "refund_b")).values(prev_hash=FORGED))


def _block_count(conn: Connection, b: Books) -> None:
    conn.execute(update(t.blocks).where(_block(b, "earn_a")).values(entry_count=1))


def _block_deleted(conn: Connection, b: Books) -> None:
    conn.execute(delete(t.blocks).where(_block(b, "redeem")))


def _last_block_deleted(conn: Connection, b: Books) -> None:
    conn.execute(delete(t.blocks).where(_block(b, "earn_c")))


def _lane_tip(conn: Connection, b: Books) -> None:
    conn.execute(
        update(t.chains).where(t.chains.c.chain_id == b.at("earn_c")[0]).values(tip_hash=FORGED)
    )


def _member_balance(conn: Connection, b: Books) -> None:
    conn.execute(
        update(t.balances)
        .where(t.balances.c.account_id == "member:ana:available")
        .values(amount=t.balances.c.amount + 5)
    )


def _system_balance(conn: Connection, b: Books) -> None:
    conn.execute(
        update(t.balances)
        .where(t.balances.c.account_id == "system:issuance")
        .values(amount=t.balances.c.amount - 1_000)
    )


def _lot_available(conn: Connection, b: Books) -> None:
    conn.execute(
        update(t.lots)
        .where(t.lots.c.lot_id == b.ids["earn_a"])
        .values(available=t.lots.c.available + 5)
    )


def _lot_status(conn: Connection, b: Books) -> None:
    conn.execute(update(t.lots).where(t.lots.c.lot_id == b.ids["earn_b"]).values(status="voided"))


def _lot_terms(conn: Connection, b: Books) -> None:
    conn.execute(update(t.lots).where(t.lots.c.lot_id == b.ids["earn_c"]).values(points=1_000))


def _lot_deleted(conn: Connection, b: Books) -> None:
    conn.execute(delete(t.lots).where(t.lots.c.lot_id == b.ids["earn_c"]))


@dataclass(frozen=True)
class Expect:
    """The first finding: its code, the entry it names, the block it names (``offset`` blocks
    after the block of entry ``block``), what its message mentions; and codes found later on."""

    code: str
    entry: str | None = None
    block: str | None = None
    offset: int = 0
    mentions: str | None = None
    also: tuple[str, ...] = ()


TAMPERS: list[tuple[str, Tamper, Expect]] = [
    (
        "a leg amount (also unbalancing its entry)",
        _leg_amount,
        Expect("entry.hash_mismatch", "earn_b", "earn_b", also=("entry.unbalanced",)),
    ),
    (
        "a leg's account",
        _leg_account,
        Expect("entry.hash_mismatch", "redeem", "redeem", also=("balance.mismatch",)),
    ),
    ("a leg's asset", _leg_asset, Expect("entry.hash_mismatch", "post", "post")),
    ("a leg deleted", _leg_deleted, Expect("entry.hash_mismatch", "release_a", "release_a")),
    (
        "an entry's stored hash",
        _entry_hash,
        Expect("entry.hash_mismatch", "release_a", "release_a", also=("block.hash_mismatch",)),
    ),
    (
        "an entry's detail",
        _entry_detail,
        Expect("entry.hash_mismatch", "earn_a", "earn_a", also=("lot.terms_mismatch",)),
    ),
    ("an entry's time", _entry_time, Expect("entry.hash_mismatch", "refund_b", "refund_b")),
    (
        "an entry's idempotency key",
        _entry_key,
        Expect("entry.hash_mismatch", "redeem", "redeem", also=("entry.id_mismatch",)),
    ),
    (
        "the entry a reversal names, in its column",
        _entry_reverses,
        Expect("entry.reverses_mismatch", "reverse", "reverse"),
    ),
    (
        "an entry deleted with its legs",
        _entry_deleted,
        Expect("block.entry_count", block="earn_a", also=("block.hash_mismatch", "lot.no_earn")),
    ),
    (
        "a block's hash",
        _block_hash,
        Expect("block.hash_mismatch", "redeem", "redeem", also=("chain.gap",)),
    ),
    ("a block's commit time", _block_time, Expect("block.hash_mismatch", "post", "post")),
    (
        "a block's link to the one before",
        _block_prev,
        Expect("chain.gap", block="refund_b", also=("block.hash_mismatch",)),
    ),
    ("a block's entry count", _block_count, Expect("block.entry_count", block="earn_a")),
    (
        "a block deleted",
        _block_deleted,
        Expect("chain.gap", block="redeem", offset=1, also=("entry.no_block",)),
    ),
    (
        "the last block deleted",
        _last_block_deleted,
        Expect("chain.tip_mismatch", block="earn_c", offset=0, also=("entry.no_block",)),
    ),
    ("a lane's tip hash", _lane_tip, Expect("chain.tip_mismatch", block="earn_c")),
    (
        "a member's cached balance",
        _member_balance,
        Expect("balance.mismatch", mentions="member:ana:available"),
    ),
    (
        "a system account's cached bucket",
        _system_balance,
        Expect("balance.mismatch", mentions="system:issuance"),
    ),
    ("a lot's cached available points", _lot_available, Expect("lot.mismatch", "earn_a")),
    ("a lot's cached status", _lot_status, Expect("lot.mismatch", "earn_b")),
    ("a lot's terms", _lot_terms, Expect("lot.terms_mismatch", "earn_c")),
    ("a lot deleted", _lot_deleted, Expect("lot.missing", "earn_c")),
]


TABLES = (t.chains, t.blocks, t.entries, t.legs, t.accounts, t.balances, t.lots)  # parents first


def copy_of(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    with engine.connect() as conn:
        return {
            table.name: [dict(row._mapping) for row in conn.execute(select(table))]
            for table in TABLES
        }


def put_back(engine: Engine, copy: dict[str, list[dict[str, Any]]]) -> None:
    """Undo a tamper: every table back to the copy (children deleted first, parents inserted)."""
    with engine.begin() as conn:
        for table in reversed(TABLES):
            conn.execute(delete(table))
        for table in TABLES:
            if copy[table.name]:
                conn.execute(insert(table), copy[table.name])


def test_verify_names_the_first_tampered_entry_or_block(ledger: Ledger, books: Books) -> None:
    """Each row of TAMPERS in turn: change one value, read the first finding, put it back.

    The rows share one ledger (built once per backend); after each row the tables are restored
    and must verify again, so every finding is caused by that row's one change alone.
    """
    pristine = copy_of(ledger.engine)
    for case, tamper, expect in TAMPERS:
        with ledger.engine.begin() as conn:
            tamper(conn, books)

        report = verify(ledger.engine)

        assert not report.ok, f"{case}: verify did not notice"
        first = report.findings[0]
        seen = [(f.code, f.where()) for f in report.findings]
        assert first.code == expect.code, f"{case}: {seen}"
        if expect.entry is not None:
            assert first.entry_id == books.ids[expect.entry], f"{case}: {seen}"
        if expect.block is not None:
            lane, height = books.at(expect.block)
            assert (first.chain_id, first.height) == (lane, height + expect.offset), case
        if expect.mentions is not None:
            assert expect.mentions in first.message, f"{case}: {first.message}"
        assert set(expect.also) <= {f.code for f in report.findings}, f"{case}: {seen}"

        put_back(ledger.engine, pristine)
        assert verify(ledger.engine).ok, f"{case}: the ledger did not come back"


def test_a_deleted_block_is_named_by_the_height_that_went_missing(
    ledger: Ledger, books: Books
) -> None:
    with ledger.engine.begin() as conn:
        _block_deleted(conn, books)
    _, first = first_finding(ledger.engine)
    assert f"expected height {books.at('redeem')[1]}" in first.message


def _rechain(conn: Connection, algorithm: str, lane: int, from_height: int) -> None:
    """What a forger with write access must also do: rehash every block of the lane from one on."""
    prev = conn.execute(
        select(t.blocks.c.block_hash).where(
            t.blocks.c.chain_id == lane, t.blocks.c.height == from_height - 1
        )
    ).scalar_one()
    blocks = conn.execute(
        select(t.blocks)
        .where(t.blocks.c.chain_id == lane, t.blocks.c.height >= from_height)
        .order_by(t.blocks.c.height)
    ).all()
    for block in blocks:
        hashes = conn.execute(
            select(t.entries.c.entry_hash)
            .where(t.entries.c.chain_id == lane, t.entries.c.height == block.height)
            .order_by(t.entries.c.seq)
        ).scalars()
        rehashed = chain_rules.block_hash(
            algorithm,
            chain_id=lane,
            height=block.height,
            prev_hash=prev,
            committed_at=block.committed_at,
            entry_hashes=list(hashes),
        )
        conn.execute(
            update(t.blocks)
            .where(t.blocks.c.chain_id == lane, t.blocks.c.height == block.height)
            .values(prev_hash=prev, block_hash=rehashed)
        )
        prev = rehashed
    conn.execute(update(t.chains).where(t.chains.c.chain_id == lane).values(tip_hash=prev))


def _forge_redeem_for_another_merchant(conn: Connection, b: Books, algorithm: str) -> None:
    """Credit the redemption to tea instead of books, and rehash the entry to match."""
    _leg_account(conn, b)
    forged = load_entries(conn, [b.ids["redeem"]])[b.ids["redeem"]]
    conn.execute(
        update(t.entries)
        .where(t.entries.c.entry_id == b.ids["redeem"])
        .values(entry_hash=chain_rules.entry_hash(algorithm, forged))
    )


def test_rehashing_a_forged_entry_still_breaks_the_block_that_holds_it(
    ledger: Ledger, books: Books
) -> None:
    with ledger.engine.begin() as conn:
        _forge_redeem_for_another_merchant(conn, books, ledger.hash_alg)

    report, first = first_finding(ledger.engine)

    assert first.code == "block.hash_mismatch"
    assert (first.chain_id, first.height) == books.at("redeem")
    assert first.entry_id == books.ids["redeem"]
    assert "entry.hash_mismatch" not in {f.code for f in report.findings}


def test_a_forger_who_rehashes_the_whole_lane_is_caught_by_the_rederived_balances(
    ledger: Ledger, books: Books
) -> None:
    """Hashes alone cannot stop someone who rewrites every later hash too; the balances and lots
    re-derived from the journal still disagree with every copy the forger did not also rewrite."""
    lane, height = books.at("redeem")
    with ledger.engine.begin() as conn:
        _forge_redeem_for_another_merchant(conn, books, ledger.hash_alg)
        _rechain(conn, ledger.hash_alg, lane, height)

    report, first = first_finding(ledger.engine)

    assert {f.code for f in report.findings} == {"balance.mismatch"}
    assert "merchant:books:accepted" in first.message


def test_an_sm3_chained_ledger_verifies_and_names_a_tampered_entry(db_url: str) -> None:
    ledger = Ledger.open(db_url, hash_alg="sm3")
    try:
        books = build(ledger)
        report = verify(ledger.engine)
        assert report.ok and report.hash_alg == "sm3", report.findings
        with ledger.engine.connect() as conn:
            algorithms = set(conn.execute(select(t.blocks.c.hash_alg)).scalars())
            entry = load_entries(conn, [books.ids["earn_b"]])[books.ids["earn_b"]]
            stored = conn.execute(
                select(t.entries.c.entry_hash).where(t.entries.c.entry_id == entry.entry_id)
            ).scalar_one()
        assert algorithms == {"sm3"}
        assert (
            stored
            == chain_rules.entry_hash("sm3", entry)
            != chain_rules.entry_hash("sha256", entry)
        )

        with ledger.engine.begin() as conn:
            _leg_amount(conn, books)
        _, first = first_finding(ledger.engine)
        assert (first.code, first.entry_id) == ("entry.hash_mismatch", books.ids["earn_b"])
        assert (first.chain_id, first.height) == books.at("earn_b")
    finally:
        ledger.engine.dispose()


def test_points_moved_off_their_lot_are_found(ledger: Ledger) -> None:
    """A member credit that names no lot is points without terms: verify must say so."""
    paid = datetime(2026, 5, 1, tzinfo=UTC)
    ledger.open_merchant("tea")
    earned = ledger.submit(Earn("e-lotless", "ana", "tea", "o1", 1000, 10, 1, paid, paid), paid)
    released = ledger.submit(Release("r-lotless", earned.entry_id), paid + timedelta(days=1))
    assert verify(ledger.engine).ok
    with ledger.engine.begin() as conn:
        conn.execute(
            update(t.legs)
            .where(t.legs.c.entry_id == released.entry_id, t.legs.c.amount > 0)
            .values(lot_id=None)
        )
    codes = {finding.code for finding in verify(ledger.engine).findings}
    assert "balance.points_without_lot" in codes


def test_a_cap_that_disagrees_with_the_journal_is_found(ledger: Ledger) -> None:
    """Caps are a cache of the journal like balances: a counter lowered behind the ledger's back
    (to let a member earn past the daily cap) is named, and a reversed redemption gives back."""
    from jifen.ledger import Cap

    paid = datetime(2026, 5, 1, tzinfo=UTC)
    day = Cap("earn-day:ana:2026-05-01", 1_000)
    order = Cap("redeem-order:books:bill-1", 50)
    ledger.open_merchant("tea")
    ledger.open_merchant("books")
    earned = ledger.submit(
        Earn("e-capped", "ana", "tea", "o1", 1000, 100, 1, paid, paid, cap=day), paid
    )
    ledger.submit(Release("r-capped", earned.entry_id), paid + timedelta(days=1))
    spent = ledger.submit(Redeem("s-capped", "ana", "books", 40, "bill-1", cap=order), paid + DAY)
    ledger.submit(Reverse("u-capped", spent.entry_id, "till error"), paid + DAY)
    ledger.submit(Redeem("s-again", "ana", "books", 50, "bill-1", cap=order), paid + DAY)
    assert verify(ledger.engine).ok
    with ledger.engine.begin() as conn:
        used = dict(conn.execute(select(t.caps.c.cap_key, t.caps.c.used)).all())
        assert used == {day.key: 100, order.key: 50}
        conn.execute(update(t.caps).where(t.caps.c.cap_key == day.key).values(used=0))
    findings = verify(ledger.engine).findings
    assert [(f.code, day.key in f.message) for f in findings] == [("cap.mismatch", True)]
