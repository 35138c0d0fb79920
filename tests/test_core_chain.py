"""Pure hash-chain rules (no database): canonical encoding, digests, entry and block hashes, ids.

An auditor recomputes every hash from the rows alone, so the encoding must be stable: the same
entry gives the same bytes on any machine, in any time zone, for as long as the ledger lives.
"""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from jifen.ledger import HASH_ALGORITHMS, LedgerError
from jifen.ledger.chain import (
    GENESIS,
    block_hash,
    body_hash,
    canonical,
    digest,
    entry_document,
    entry_hash,
    entry_id_for,
    utc_text,
)
from jifen.ledger.model import Asset, Entry, Leg

BEIJING = timezone(timedelta(hours=8))
T0 = datetime(2026, 3, 1, 1, 30, tzinfo=UTC)

# -- canonical encoding ------------------------------------------------------------------------


def test_canonical_json_sorts_keys_drops_spaces_and_keeps_chinese_as_utf8() -> None:
    value = {
        "b": 1,
        "a": [1, "积分", None, True],
        "at": datetime(2026, 3, 1, 9, 30, tzinfo=BEIJING),
    }
    assert canonical(value) == (
        '{"a":[1,"积分",null,true],"at":"2026-03-01T01:30:00.000000Z","b":1}'.encode()
    )


def test_canonical_json_does_not_depend_on_key_insertion_order() -> None:
    assert canonical({"x": 1, "y": {"q": 2, "p": 3}}) == canonical({"y": {"p": 3, "q": 2}, "x": 1})


@pytest.mark.parametrize("value", [Decimal("1.5"), {1, 2}, object()])
def test_canonical_json_refuses_values_it_cannot_spell_one_way(value: Any) -> None:
    with pytest.raises(TypeError):
        canonical({"v": value})


UTC_TEXT_CASES = [
    # (instant, its one spelling)
    (datetime(2026, 3, 1, 1, 30, tzinfo=UTC), "2026-03-01T01:30:00.000000Z"),
    (datetime(2026, 3, 1, 9, 30, tzinfo=BEIJING), "2026-03-01T01:30:00.000000Z"),
    (datetime(2026, 1, 1, 7, 59, 59, 999_999, tzinfo=BEIJING), "2025-12-31T23:59:59.999999Z"),
    (datetime(2026, 3, 1, 1, 30, 0, 1, tzinfo=UTC), "2026-03-01T01:30:00.000001Z"),
]


@pytest.mark.parametrize(("instant", "text"), UTC_TEXT_CASES)
def test_every_instant_has_one_utc_spelling_whatever_its_zone(instant: datetime, text: str) -> None:
    assert utc_text(instant) == text


# -- digests -----------------------------------------------------------------------------------

DIGEST_VECTORS = [
    # (algorithm, message, digest): FIPS 180-2 for SHA-256, GB/T 32905-2016 for SM3
    ("sha256", b"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
    ("sm3", b"abc", "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"),
    ("sm3", b"abcd" * 16, "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"),
    ("sm3", b"", "1ab21d8355cfa17f8e61194831e81a8f22bec8c728fefb747ed035eb5082aa2b"),
]


@pytest.mark.parametrize(("algorithm", "message", "expected"), DIGEST_VECTORS)
def test_digest_matches_the_published_test_vectors(
    algorithm: str, message: bytes, expected: str
) -> None:
    assert digest(algorithm, message) == expected


def test_sha256_and_sm3_are_the_selectable_algorithms() -> None:
    assert HASH_ALGORITHMS == ("sha256", "sm3")


@pytest.mark.parametrize("algorithm", ["md5", "sha1", "SHA256", "SM3", "sha-256", ""])
def test_an_unknown_hash_algorithm_is_refused(algorithm: str) -> None:
    with pytest.raises(LedgerError) as refused:
        digest(algorithm, b"abc")
    assert refused.value.code == "chain.unsupported_hash"


# -- entry hashes ------------------------------------------------------------------------------

ENTRY = Entry(
    entry_id=entry_id_for("earn:order-88"),
    key="earn:order-88",
    body_hash="ab" * 32,
    kind="earn",
    at=T0,
    legs=(
        Leg("system:issuance", Asset.POINTS, -128),
        Leg("member:ana:pending", Asset.POINTS, 128, entry_id_for("earn:order-88")),
    ),
    detail={"order_ref": "order-88", "points": 128, "memo": "奶茶"},
)


def test_an_entry_encodes_to_the_documented_canonical_document() -> None:
    lot = entry_id_for("earn:order-88")
    assert (
        canonical(entry_document(ENTRY))
        == (
            '{"at":"2026-03-01T01:30:00.000000Z","body":"' + "ab" * 32 + '",'
            '"detail":{"memo":"奶茶","order_ref":"order-88","points":128},'
            f'"id":"{lot}","key":"earn:order-88","kind":"earn",'
            '"legs":[["system:issuance","POINTS",-128,null],'
            f'["member:ana:pending","POINTS",128,"{lot}"]]}}'
        ).encode()
    )
    assert (
        entry_hash("sha256", ENTRY) == hashlib.sha256(canonical(entry_document(ENTRY))).hexdigest()
    )


def test_an_entry_hashes_the_same_whatever_zone_its_time_was_given_in() -> None:
    in_beijing = dataclasses.replace(ENTRY, at=T0.astimezone(BEIJING))
    for algorithm in HASH_ALGORITHMS:
        assert entry_hash(algorithm, in_beijing) == entry_hash(algorithm, ENTRY)


def _with_leg(index: int, **change: Any) -> Entry:
    legs = list(ENTRY.legs)
    legs[index] = dataclasses.replace(legs[index], **change)
    return dataclasses.replace(ENTRY, legs=tuple(legs))


ENTRY_CHANGES = {
    "entry id": dataclasses.replace(ENTRY, entry_id="0" * 32),
    "key": dataclasses.replace(ENTRY, key="earn:order-89"),
    "body hash": dataclasses.replace(ENTRY, body_hash="cd" * 32),
    "kind": dataclasses.replace(ENTRY, kind="post"),
    "time, by one microsecond": dataclasses.replace(ENTRY, at=T0 + timedelta(microseconds=1)),
    "a detail value": dataclasses.replace(ENTRY, detail={**ENTRY.detail, "points": 129}),
    "an extra detail": dataclasses.replace(ENTRY, detail={**ENTRY.detail, "x": None}),
    "a leg amount": _with_leg(0, amount=-127),
    "a leg account": _with_leg(1, account="member:bo:pending"),
    "a leg asset": _with_leg(0, asset=Asset.CNY),
    "a leg's lot": _with_leg(1, lot_id=None),
    "the leg order": dataclasses.replace(ENTRY, legs=ENTRY.legs[::-1]),
    "a leg dropped": dataclasses.replace(ENTRY, legs=ENTRY.legs[:1]),
}


@pytest.mark.parametrize("changed", ENTRY_CHANGES.values(), ids=ENTRY_CHANGES.keys())
@pytest.mark.parametrize("algorithm", HASH_ALGORITHMS)
def test_an_entry_hash_changes_when_anything_the_entry_says_changes(
    algorithm: str, changed: Entry
) -> None:
    assert entry_hash(algorithm, changed) != entry_hash(algorithm, ENTRY)


def test_sha256_and_sm3_give_different_entry_hashes() -> None:
    assert entry_hash("sha256", ENTRY) != entry_hash("sm3", ENTRY)
    assert entry_hash("sm3", ENTRY) == digest("sm3", canonical(entry_document(ENTRY)))


# -- block hashes ------------------------------------------------------------------------------

BLOCK: dict[str, Any] = {
    "chain_id": 3,
    "height": 42,
    "prev_hash": "9" * 64,
    "committed_at": T0,
    "entry_hashes": ["1" * 64, "2" * 64, "3" * 64],
}

BLOCK_CHANGES = {
    "lane": {"chain_id": 4},
    "height": {"height": 43},
    "previous block": {"prev_hash": GENESIS},
    "commit time, by one microsecond": {"committed_at": T0 + timedelta(microseconds=1)},
    "an entry hash": {"entry_hashes": ["1" * 64, "2" * 64, "4" * 64]},
    "entry order": {"entry_hashes": ["2" * 64, "1" * 64, "3" * 64]},
    "an entry dropped": {"entry_hashes": ["1" * 64, "2" * 64]},
    "an entry added": {"entry_hashes": ["1" * 64, "2" * 64, "3" * 64, "5" * 64]},
}


@pytest.mark.parametrize("change", BLOCK_CHANGES.values(), ids=BLOCK_CHANGES.keys())
@pytest.mark.parametrize("algorithm", HASH_ALGORITHMS)
def test_a_block_hash_changes_when_any_of_its_inputs_changes(
    algorithm: str, change: dict[str, Any]
) -> None:
    assert block_hash(algorithm, **{**BLOCK, **change}) != block_hash(algorithm, **BLOCK)


def test_a_block_hash_names_its_algorithm_so_the_two_never_collide() -> None:
    assert block_hash("sha256", **BLOCK) != block_hash("sm3", **BLOCK)
    assert len(block_hash("sm3", **BLOCK)) == len(GENESIS) == 64


def test_a_block_hash_is_stable_across_calls_and_zones() -> None:
    again = {**BLOCK, "committed_at": T0.astimezone(BEIJING)}
    assert block_hash("sha256", **again) == block_hash("sha256", **BLOCK)


# -- ids and request bodies --------------------------------------------------------------------


@pytest.mark.parametrize("key", ["k", "earn:order-88", "refund:88/1@2026-03-01", "x" * 128])
def test_entry_ids_derive_from_idempotency_keys(key: str) -> None:
    expected = hashlib.sha256(b"jifen-entry\x00" + key.encode()).hexdigest()[:32]
    assert entry_id_for(key) == expected  # a retry on any writer finds the same entry


def test_different_keys_give_different_entry_ids() -> None:
    keys = [f"earn:{n}" for n in range(2_000)] + ["a", "A", "a ", "earn:1 "]
    assert len({entry_id_for(k) for k in keys}) == len(keys)


def test_a_request_body_hash_ignores_key_order_and_is_always_sha256() -> None:
    body = {"kind": "redeem", "points": 5, "member_id": "ana"}
    assert body_hash(body) == body_hash(dict(reversed(list(body.items()))))
    assert body_hash(body) == hashlib.sha256(canonical(body)).hexdigest()
    assert body_hash(body) != body_hash({**body, "points": 6})
