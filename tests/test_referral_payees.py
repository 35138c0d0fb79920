"""Payees (issue 14): a real name, a valid 居民身份证号 and an openid, only with the separate
consent, stored only sealed; verified by the operator with a reference; erased without leaving
the payout account behind, keeping the tax record's name and number only once tax was withheld."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag
from sqlalchemy import select

from funds_kit import alliance, member
from jifen.alliance.privacy import erase
from jifen.app import Context
from jifen.promoters import config, payees, statements
from jifen.promoters.errors import (
    PayeeAccountUnsupported,
    PayeeConsentRequired,
    PayeeInvalid,
    PayeeNotFound,
    TaxMethodInvalid,
)
from jifen.promoters.payouts import run_payout_batch
from jifen.store import tables as t
from payouts_kit import Stand, accrue, id_number, register, stand_funds, verified
from sandbox_kit import T0

NAME, OPENID = "王小明", "oPayee_Wang_000001"
NUMBER = id_number("11010519900307123")


@pytest.fixture
def ctx(db_url: str) -> Iterator[Context]:
    found, _ = alliance(db_url)
    try:
        yield found
    finally:
        found.engine.dispose()


@pytest.mark.parametrize(
    ("number", "valid"),
    [
        ("11010519491231002X", True),  # GB 11643's own example: check character X
        (id_number("44030619851224561"), True),
        ("110105194912310021", False),  # the check digit of the example changed
        ("11010519491331002X", False),  # month 13
        ("01010519491231002X", False),  # area code starts with 0
        ("1101051949123100", False),  # too short
        ("11010518991231002X", False),  # born before 1900
    ],
)
def test_an_id_number_needs_its_form_a_real_birth_date_and_its_check_digit(
    number: str, valid: bool
) -> None:
    assert payees.id_number_valid(number) is valid


def test_registering_without_the_current_consent_is_refused_and_stores_nothing(
    ctx: Context,
) -> None:
    for version in (None, "payee-2020-01"):
        reg = payees.Registration(NAME, NUMBER, payees.WECHAT_OPENID, OPENID, version)
        with pytest.raises(PayeeConsentRequired):
            payees.register(ctx, "mwang", reg, T0)
    with pytest.raises(PayeeNotFound):
        payees.payee(ctx, "mwang")


@pytest.mark.parametrize(
    ("name", "number", "kind", "account", "error", "field"),
    [
        (NAME, "110105194912310021", "wechat_openid", OPENID, PayeeInvalid, "id_number"),
        ("王", NUMBER, "wechat_openid", OPENID, PayeeInvalid, "real_name"),
        ("王1明", NUMBER, "wechat_openid", OPENID, PayeeInvalid, "real_name"),
        (NAME, NUMBER, "wechat_openid", "o p", PayeeInvalid, "account"),
        (NAME, NUMBER, "bank_card", "6222020200112233445", PayeeAccountUnsupported, None),
    ],
)
def test_a_bad_registration_names_what_is_wrong(
    ctx: Context, name: str, number: str, kind: str, account: str, error: type, field: str | None
) -> None:
    reg = payees.Registration(name, number, kind, account, payees.PAYEE_CONSENT_VERSION)
    with pytest.raises(error) as caught:
        payees.register(ctx, "mwang", reg, T0)
    assert caught.value.context.get("field") == field


def test_the_identity_is_stored_only_sealed_and_shown_only_masked(
    ctx: Context, db_url: str
) -> None:
    shown = register(ctx, "mwang", f" {NAME} ", NUMBER.lower(), OPENID, T0)
    assert (shown.name_mask, shown.id_mask, shown.account_hint) == (
        "王**",
        NUMBER[0] + "*" * 16 + NUMBER[-1],
        "****0001",
    )
    assert shown.payable is False and shown.consent_version == payees.PAYEE_CONSENT_VERSION
    with ctx.engine.connect() as conn:
        row = conn.execute(select(t.payees)).one()
    stored = " ".join(str(v) for v in row)
    for raw in (NAME, NUMBER, OPENID, OPENID[-8:]):
        assert raw not in stored
    if db_url.startswith("sqlite"):
        ctx.engine.dispose()
        data = Path(db_url.removeprefix("sqlite:///")).read_bytes()
        for raw in (NAME, NUMBER, OPENID):
            assert raw.encode() not in data
    who = payees.identity(ctx, "mwang")
    assert (who.real_name, who.id_number, who.account) == (NAME, NUMBER, OPENID)


def test_a_sealed_value_copied_to_another_payee_does_not_open(ctx: Context) -> None:
    register(ctx, "mwang", NAME, NUMBER, OPENID, T0)
    register(ctx, "mli", "李四", id_number("44030619851224561"), "oPayee_Li_00000002", T0)
    with ctx.writer.begin() as conn:
        wang = conn.execute(select(t.payees).where(t.payees.c.member_id == "mwang")).one()
        conn.execute(
            t.payees.update()
            .where(t.payees.c.member_id == "mli")
            .values(real_name_sealed=wang.real_name_sealed)
        )
    with pytest.raises(InvalidTag):
        payees.identity(ctx, "mli")


def test_verification_makes_a_payee_payable_and_a_changed_identity_needs_it_again(
    ctx: Context,
) -> None:
    register(ctx, "mwang", NAME, NUMBER, OPENID, T0)
    with pytest.raises(PayeeInvalid):
        payees.verify(ctx, "mwang", "no spaces please", T0)
    with pytest.raises(PayeeNotFound):
        payees.verify(ctx, "nobody", "kyc-1", T0)
    done = payees.verify(ctx, "mwang", "kyc-vendor:8841", T0)
    assert done.payable and done.verification_ref == "kyc-vendor:8841"
    again = register(ctx, "mwang", NAME, NUMBER, OPENID, T0 + timedelta(hours=1))
    assert again.payable and again.updated_at == done.updated_at  # the same identity: no change
    moved = register(ctx, "mwang", NAME, NUMBER, "oPayee_Wang_000002", T0 + timedelta(hours=2))
    assert not moved.payable and moved.verified_at is None and moved.account_hint == "****0002"


def test_what_an_unverified_payee_is_owed_waits_and_shows_as_awaiting_verification(
    ctx: Context,
) -> None:
    register(ctx, "mwang", NAME, NUMBER, OPENID, T0)
    accrue(ctx, "mwang", "o-1", 12_345, T0)
    stand = Stand()
    assert run_payout_batch(ctx, stand_funds(stand), T0).batch_id is None
    assert stand.sent == []
    assert statements.owed(ctx, "mwang") == statements.Owed(12_345, True)
    assert statements.owed(ctx, "nobody") == statements.Owed(0, True)
    payees.verify(ctx, "mwang", "kyc-1", T0)
    assert statements.owed(ctx, "mwang") == statements.Owed(12_345, False)


def test_erasure_drops_the_payout_account_and_keeps_the_tax_record_only_once_paid(
    ctx: Context,
) -> None:
    paid, unpaid = member(ctx, "13900139001"), member(ctx, "13900139002")
    verified(ctx, paid, NAME, NUMBER, OPENID, T0)
    register(ctx, unpaid, "李四", id_number("44030619851224561"), "oPayee_Li_00000002", T0)
    accrue(ctx, paid, "o-1", 50_000, T0)
    funds = stand_funds(Stand())
    run_payout_batch(ctx, funds, T0)
    assert run_payout_batch(ctx, funds, T0).state == "succeeded"
    erase(ctx, paid, T0, forfeit=True)
    erase(ctx, unpaid, T0, forfeit=True)
    with pytest.raises(PayeeNotFound):
        payees.payee(ctx, unpaid)
    kept = payees.identity(ctx, paid)
    assert (kept.real_name, kept.id_number, kept.account) == (NAME, NUMBER, "")
    assert not payees.payee(ctx, paid).payable
    rows = statements.withholding_rows(ctx, 2026, 3)
    assert [(r.member_id, r.real_name, r.gross_fen) for r in rows] == [(paid, NAME, 50_000)]


def test_the_tax_method_changes_from_the_next_month_and_defaults_to_cumulative(
    ctx: Context,
) -> None:
    assert config.method_for(ctx, "2026-03") == "cumulative"
    with pytest.raises(TaxMethodInvalid):
        config.set_method(ctx, "flat", T0)
    change = config.set_method(ctx, "per-payment", T0)  # 2026-03-02
    assert change == config.MethodChange("2026-04", "per_payment")
    assert config.method_for(ctx, "2026-03") == "cumulative"
    assert config.method_for(ctx, "2026-04") == "per_payment"
    config.set_method(ctx, "cumulative", T0 + timedelta(days=1))  # changed mind before April
    assert config.method_changes(ctx) == []
    assert config.method_for(ctx, "2026-05") == "cumulative"
