"""The wire models: they map the services' plain values by name, decide nothing, and take their
limits from where the limits are decided (pure: no store, no server)."""

from __future__ import annotations

import unicodedata
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from jifen.alliance.members import Member
from jifen.alliance.merchants import MERCHANT_ID, Merchant, MerchantStatus, Store
from jifen.alliance.orders import Order, RefundResult
from jifen.alliance.redemptions import CODE_DIGITS
from jifen.api.schemas import (
    MAX_REQUEST_FEN,
    MerchantIn,
    MerchantOut,
    OrderIn,
    OrderOut,
    OrderPage,
    RedemptionIn,
    RefundIn,
    RefundOut,
    StatusIn,
    StoreIn,
    member_for_merchant,
    version_out,
)
from jifen.app import Page
from jifen.app.rulebook import view
from jifen.compliance import lint_rules
from jifen.ledger.model import ID_PATTERN, MAX_FEN
from jifen.rules import RuleDocument, Version, VersionStatus

T0 = datetime(2026, 7, 1, tzinfo=UTC)
ORDER = Order(
    merchant_id="cafe", order_ref="o-1", member_id="m-1", amount_fen=10_000, refunded_fen=0,
    paid_at=T0, rule_version=1, points=10, status="pending", pending=10, available=0,
    release_at=T0, expires_at=None,
)  # fmt: skip


def _accepts(model: type[BaseModel], **fields: Any) -> bool:
    try:
        model.model_validate(fields)
    except ValidationError:
        return False
    return True


def _order(**fields: Any) -> dict[str, Any]:
    return {"order_ref": "o-1", "member_id": "m-1", "amount_fen": 100, "paid_at": T0, **fields}


# -- limits ----------------------------------------------------------------------------------------


@given(st.one_of(st.from_regex(ID_PATTERN, fullmatch=True), st.text(max_size=70)))
def test_an_id_is_accepted_exactly_when_the_ledgers_id_pattern_takes_it(text: str) -> None:
    ledger_takes = ID_PATTERN.fullmatch(unicodedata.normalize("NFKC", text)) is not None
    assert _accepts(OrderIn, **_order(order_ref=text)) is ledger_takes
    assert _accepts(OrderIn, **_order(member_id=text)) is ledger_takes
    assert _accepts(RefundIn, refund_ref=text, refund_fen=1) is ledger_takes
    assert _accepts(StoreIn, store_id=text, name="s") is ledger_takes


@given(st.one_of(st.from_regex(MERCHANT_ID, fullmatch=True), st.text(max_size=40)))
def test_a_merchant_id_is_accepted_exactly_when_the_merchants_pattern_takes_it(text: str) -> None:
    kyc = {"legal_name": "某某咖啡有限公司", "licence_no": "91310000MA1K000000"}
    body = {"merchant_id": text, "name": "n", "category": "cafe", "kyc": kyc}
    takes = MERCHANT_ID.fullmatch(unicodedata.normalize("NFKC", text)) is not None
    assert _accepts(MerchantIn, **body) is takes


def test_money_in_a_request_stops_at_the_named_bound_well_inside_the_ledgers() -> None:
    assert MAX_REQUEST_FEN * 100 <= MAX_FEN
    redemption = {"code": "7" * CODE_DIGITS, "points": 1, "order_ref": "b"}
    for fen, accepted in ((MAX_REQUEST_FEN, True), (MAX_REQUEST_FEN + 1, False)):
        assert _accepts(OrderIn, **_order(amount_fen=fen)) is accepted
        assert _accepts(RefundIn, refund_ref="r", refund_fen=fen) is accepted
        assert _accepts(RedemptionIn, **redemption, order_amount_fen=fen) is accepted


@pytest.mark.parametrize("digits", [CODE_DIGITS - 1, CODE_DIGITS, CODE_DIGITS + 1])
def test_a_redemption_code_has_the_services_length(digits: int) -> None:
    body = {"code": "7" * digits, "points": 1, "order_ref": "b", "order_amount_fen": 100}
    assert _accepts(RedemptionIn, **body) is (digits == CODE_DIGITS)


def test_a_merchant_status_is_one_of_the_services_statuses() -> None:
    assert [StatusIn.model_validate({"status": s.value}).status for s in MerchantStatus] == list(
        MerchantStatus
    )
    assert not _accepts(StatusIn, status="paused")


# -- mapping ---------------------------------------------------------------------------------------


def test_an_order_maps_by_name_without_its_merchant() -> None:
    out = OrderOut.model_validate(ORDER).model_dump()
    assert "merchant_id" not in out
    assert out == {k: v for k, v in vars(ORDER).items() if k != "merchant_id"}


def test_a_page_and_a_refund_map_their_nested_values() -> None:
    page = OrderPage.model_validate(Page(items=(ORDER, ORDER), next_cursor="c"))
    assert page.next_cursor == "c" and [o.order_ref for o in page.items] == ["o-1", "o-1"]
    result = RefundResult(
        order=ORDER, refund_fen=100, clawback_points=1, shortfall_points=0,
        shortfall_policy="debt", deduct_fen=0, credited_fen=1, replayed=True,
    )  # fmt: skip
    refund = RefundOut.model_validate(result).model_dump()
    assert refund["order"] == OrderOut.model_validate(ORDER).model_dump()
    assert "replayed" not in refund  # the Idempotent-Replayed header says it


def test_a_merchants_stores_go_out_as_plain_objects() -> None:
    merchant = Merchant(
        merchant_id="cafe", name="咖啡", category="cafe", status=MerchantStatus.SUSPENDED,
        kyc={"legal_name": "x"}, stores=(Store("s-1", "一号店", "上海"), Store("s-2", "二号店")),
        created_at=T0,
    )  # fmt: skip
    out = MerchantOut.model_validate(merchant).model_dump(mode="json")
    assert out == {
        "merchant_id": "cafe",
        "name": "咖啡",
        "category": "cafe",
        "status": "suspended",
        "kyc": {"legal_name": "x"},
        "stores": [
            {"store_id": "s-1", "name": "一号店", "city": "上海"},
            {"store_id": "s-2", "name": "二号店", "city": ""},
        ],
    }


def test_a_merchant_enrolling_a_member_learns_only_the_id_and_the_masked_number() -> None:
    member = Member("m-1", "138****8000", T0, {"terms": True, "privacy": True})
    out = member_for_merchant(member).model_dump()
    assert out == {
        "member_id": "m-1",
        "phone_masked": "138****8000",
        "created_at": None,
        "consents": None,
    }


# -- rule versions: the service lints, the serializer maps ---------------------------------------


def test_a_versions_findings_are_its_views_and_the_serializer_only_maps_them() -> None:
    full_rebate = RuleDocument.model_validate({"earn": {"points_per_yuan": 100}})
    draft = Version(
        number=3, document=full_rebate, published_at=None, effective_at=None, reason="",
        diff_text="+ earn.points_per_yuan: 100",
    )  # fmt: skip
    seen = view(draft, VersionStatus.DRAFT)
    assert seen.findings == tuple(lint_rules(full_rebate))
    assert [f.id for f in seen.findings] == ["FUND-2"]
    out = version_out(seen)
    assert out.findings == [f.as_dict() for f in seen.findings]
    assert (out.number, out.status, out.diff) == (3, VersionStatus.DRAFT, draft.diff_text)
    assert out.document == full_rebate.model_dump(mode="json")
    assert version_out(replace(seen, findings=())).findings == []  # nothing re-linted here
