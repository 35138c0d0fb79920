"""Rights gate (PTS-4) and the version lifecycle: status, version in force, publication checks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jifen.rules import (
    NoRulesInForce,
    RuleDocument,
    RulesError,
    Version,
    VersionStatus,
    check_publication,
    expires_at,
    render_diff,
    rights_reductions,
    status_at,
    version_at,
)


def doc(**changes: Any) -> RuleDocument:
    return RuleDocument().with_changes(**changes)


def rolling(months: int) -> dict[str, Any]:
    return {"expiry.policy": "rolling", "expiry.months": months, "expiry.month_of_year": None}


def fixed(months: int, month_of_year: int) -> dict[str, Any]:
    return {
        "expiry.policy": "fixed_month_end",
        "expiry.months": months,
        "expiry.month_of_year": month_of_year,
    }


NEVER = {"expiry.policy": "none", "expiry.month_of_year": None}
VALUE_2 = {"point_value.fen_per_point": 2, "issue_price.fen_per_1000_points": 2400}

# --- rights gate ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "proposed", "reduced_paths"),
    [
        pytest.param(VALUE_2, {}, ["point_value.fen_per_point"], id="value lowered"),
        pytest.param({}, VALUE_2, [], id="value raised"),
        pytest.param(rolling(12), rolling(6), ["expiry"], id="rolling shortened"),
        pytest.param(rolling(12), rolling(24), [], id="rolling lengthened"),
        pytest.param(rolling(12), NEVER, [], id="expiry removed"),
        pytest.param(NEVER, rolling(120), ["expiry"], id="expiry introduced"),
        pytest.param(rolling(12), fixed(12, 9), [], id="rolling to fixed, same months"),
        pytest.param(rolling(12), fixed(11, 9), ["expiry"], id="rolling to fixed, fewer months"),
        pytest.param(fixed(36, 9), fixed(36, 3), ["expiry"], id="fixed month moved"),
        pytest.param(fixed(36, 9), fixed(48, 3), [], id="fixed month moved, a year added"),
        pytest.param(fixed(36, 9), rolling(40), ["expiry"], id="fixed to rolling, may end sooner"),
        pytest.param(fixed(36, 9), rolling(48), [], id="fixed to rolling, a year added"),
        pytest.param(fixed(36, 9), fixed(35, 9), ["expiry"], id="fixed shortened"),
        pytest.param(
            {"redemption.min_points": 100},
            {"redemption.min_points": 200},
            ["redemption.min_points"],
            id="minimum raised",
        ),
        pytest.param({"redemption.min_points": 200}, {"redemption.min_points": 100}, [], id="min"),
        pytest.param(
            {},
            {"redemption.max_order_share_bp": 5000},
            ["redemption.max_order_share_bp"],
            id="share lowered",
        ),
        pytest.param(
            {"redemption.excluded_categories": ["tobacco"]},
            {"redemption.excluded_categories": ["tobacco", "lottery"]},
            ["redemption.excluded_categories"],
            id="category excluded",
        ),
        pytest.param(
            {"redemption.excluded_categories": ["tobacco", "lottery"]},
            {"redemption.excluded_categories": ["lottery"]},
            [],
            id="exclusion lifted",
        ),
        pytest.param(
            {},
            {"refund.shortfall": "record_debt"},
            ["refund.shortfall"],
            id="shortfall becomes a debt",
        ),
        pytest.param({"refund.shortfall": "record_debt"}, {}, [], id="debt becomes deduction"),
        pytest.param(
            {"earn.points_per_yuan": 2, "pending.return_window_days": 7, "notice_days": 30},
            {
                "earn.points_per_yuan": 1,
                "pending.return_window_days": 30,
                "notice_days": 7,
                "issue_price.fen_per_1000_points": 1500,
            },
            [],
            id="earn, pending, notice and issue price are prospective",
        ),
        pytest.param(
            {**VALUE_2, **rolling(24)},
            {"redemption.min_points": 500, **rolling(12)},
            ["point_value.fen_per_point", "expiry", "redemption.min_points"],
            id="several at once",
        ),
    ],
)
def test_rights_gate_worked_examples(
    current: dict[str, Any], proposed: dict[str, Any], reduced_paths: list[str]
) -> None:
    reductions = rights_reductions(doc(**current), doc(**proposed))
    assert [r.path for r in reductions] == reduced_paths
    for reduction in reductions:
        assert reduction.reason_zh and reduction.reason_en
        assert reduction.old != reduction.new


def test_a_reduction_names_the_added_category_in_both_languages() -> None:
    (reduction,) = rights_reductions(doc(), doc(**{"redemption.excluded_categories": ["烟草"]}))
    assert "烟草" in reduction.reason_zh
    assert "烟草" in reduction.reason_en
    assert (reduction.old, reduction.new) == ([], ["烟草"])


expiries = st.one_of(
    st.just(NEVER),
    st.integers(1, 120).map(rolling),
    st.builds(fixed, st.integers(1, 120), st.integers(1, 12)),
)
release_times = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2060, 12, 31), timezones=st.just(UTC)
)


@given(expiries)
def test_a_document_never_reduces_its_own_rights(expiry: dict[str, Any]) -> None:
    document = doc(**expiry)
    assert rights_reductions(document, document) == []


@given(expiries, expiries, release_times)
def test_an_expiry_change_the_gate_passes_never_expires_points_sooner(
    current: dict[str, Any], proposed: dict[str, Any], released_at: datetime
) -> None:
    old, new = doc(**current), doc(**proposed)
    if any(r.path == "expiry" for r in rights_reductions(old, new)):
        return
    old_expiry, new_expiry = expires_at(old, released_at), expires_at(new, released_at)
    assert new_expiry is None or (old_expiry is not None and new_expiry >= old_expiry)


# --- lifecycle --------------------------------------------------------------------------------

JAN_1 = datetime(2026, 1, 1, tzinfo=UTC)
FEB_1 = datetime(2026, 2, 1, tzinfo=UTC)
MAR_3 = FEB_1 + timedelta(days=30)

V1 = Version(1, RuleDocument(), JAN_1, JAN_1, "launch", "")
V2 = Version(2, doc(**{"earn.points_per_yuan": 2}), FEB_1, MAR_3, "double points", "")
V3_DRAFT = Version(3, doc(**{"earn.points_per_yuan": 3}), None, None, "draft", "")
HISTORY = [V1, V2, V3_DRAFT]


@pytest.mark.parametrize(
    ("version", "now", "status"),
    [
        (V1, JAN_1 - timedelta(seconds=1), VersionStatus.DRAFT),
        (V1, JAN_1, VersionStatus.EFFECTIVE),
        (V1, MAR_3 - timedelta(seconds=1), VersionStatus.EFFECTIVE),
        (V1, MAR_3, VersionStatus.SUPERSEDED),
        (V2, JAN_1, VersionStatus.DRAFT),
        (V2, FEB_1, VersionStatus.PUBLISHED),
        (V2, MAR_3, VersionStatus.EFFECTIVE),
        (V3_DRAFT, MAR_3 + timedelta(days=365), VersionStatus.DRAFT),
    ],
)
def test_status_follows_draft_published_effective_superseded(
    version: Version, now: datetime, status: VersionStatus
) -> None:
    assert status_at(version, HISTORY, now) is status


@pytest.mark.parametrize(
    ("when", "number"),
    [(JAN_1, 1), (FEB_1, 1), (MAR_3 - timedelta(microseconds=1), 1), (MAR_3, 2)],
)
def test_the_payment_time_picks_the_version_in_force(when: datetime, number: int) -> None:
    assert version_at(HISTORY, when).number == number


def test_before_the_first_version_no_rules_are_in_force() -> None:
    with pytest.raises(NoRulesInForce) as caught:
        version_at(HISTORY, JAN_1 - timedelta(days=1))
    assert (caught.value.code, caught.value.status) == ("rules.none_in_force", 409)


def test_a_published_version_needs_an_effective_time() -> None:
    with pytest.raises(RulesError):
        Version(1, RuleDocument(), JAN_1, None, "launch", "")


def publish(
    versions: list[Version],
    proposed: RuleDocument,
    *,
    published_at: datetime,
    effective_at: datetime,
    reason: str = "因成本变化调整 / cost change",
    points_outstanding: bool = True,
) -> str:
    return render_diff(
        check_publication(
            versions,
            proposed,
            published_at=published_at,
            effective_at=effective_at,
            reason=reason,
            points_outstanding=points_outstanding,
        )
    )


def refused(code: str, status: int, **kwargs: Any) -> RulesError:
    with pytest.raises(RulesError) as caught:
        publish(**kwargs)
    assert (caught.value.code, caught.value.status) == (code, status)
    return caught.value


def test_the_first_version_may_take_effect_when_published_and_lists_every_term() -> None:
    diff = publish([], RuleDocument(), published_at=JAN_1, effective_at=JAN_1)
    assert "+ point_value.fen_per_point: 1" in diff.splitlines()


def test_no_version_may_take_effect_before_it_is_published() -> None:
    refused(
        "rules.effective_in_past",
        422,
        versions=[],
        proposed=RuleDocument(),
        published_at=JAN_1,
        effective_at=JAN_1 - timedelta(seconds=1),
    )


@pytest.mark.parametrize("reason", ["", "   ", "理" * 501])
def test_a_publication_needs_a_reason_of_at_most_500_characters(reason: str) -> None:
    refused(
        "rules.reason_required",
        422,
        versions=[],
        proposed=RuleDocument(),
        published_at=JAN_1,
        effective_at=JAN_1,
        reason=reason,
    )


def test_a_reason_of_exactly_500_characters_is_enough() -> None:
    publish([], RuleDocument(), published_at=JAN_1, effective_at=JAN_1, reason="理" * 500)


def test_a_change_needs_the_notice_the_rules_in_force_promise() -> None:
    published_at = MAR_3 + timedelta(days=1)
    proposed = doc(**{"earn.points_per_yuan": 5})
    error = refused(
        "rules.notice_too_short",
        422,
        versions=HISTORY,
        proposed=proposed,
        published_at=published_at,
        effective_at=published_at + timedelta(days=30) - timedelta(seconds=1),
    )
    assert error.context["notice_days"] == 30
    diff = publish(
        HISTORY, proposed, published_at=published_at, effective_at=published_at + timedelta(days=30)
    )
    assert diff == "earn.points_per_yuan: 2 → 5"  # against the latest published version


def test_announcing_a_shorter_notice_does_not_shorten_the_notice_owed_now() -> None:
    short_notice = Version(2, doc(**{"notice_days": 7}), FEB_1, MAR_3, "shorter notice", "")
    published_at = FEB_1 + timedelta(days=1)
    error = refused(
        "rules.notice_too_short",
        422,
        versions=[V1, short_notice],
        proposed=doc(**{"notice_days": 7, "earn.points_per_yuan": 3}),
        published_at=published_at,
        effective_at=MAR_3 + timedelta(hours=12),  # 29.5 days: enough for v2's 7, not v1's 30
    )
    assert error.context["notice_days"] == 30


def test_a_longer_announced_notice_binds_before_it_takes_effect() -> None:
    long_notice = Version(2, doc(**{"notice_days": 90}), FEB_1, MAR_3, "longer notice", "")
    published_at = FEB_1 + timedelta(days=1)
    error = refused(
        "rules.notice_too_short",
        422,
        versions=[V1, long_notice],
        proposed=doc(**{"notice_days": 90, "earn.points_per_yuan": 3}),
        published_at=published_at,
        effective_at=published_at + timedelta(days=60),
    )
    assert error.context["notice_days"] == 90


def test_versions_take_effect_in_publication_order() -> None:
    refused(
        "rules.effective_order",
        409,
        versions=HISTORY,
        proposed=doc(**{"earn.points_per_yuan": 5}),
        published_at=JAN_1 + timedelta(days=1),
        effective_at=MAR_3,  # 61 days' notice, but not after version 2's effective_at
    )


def test_publishing_the_same_document_again_is_refused() -> None:
    refused(
        "rules.unchanged",
        409,
        versions=HISTORY,
        proposed=V2.document,
        published_at=MAR_3,
        effective_at=MAR_3 + timedelta(days=30),
    )


def test_reducing_the_rights_of_outstanding_points_is_refused_outright() -> None:
    error = refused(
        "rules.rights_reduced",
        409,
        versions=HISTORY,
        proposed=V2.document.with_changes(**{"expiry.months": 6}),
        published_at=MAR_3,
        effective_at=MAR_3 + timedelta(days=365),  # however long the notice
    )
    assert [r["path"] for r in error.context["reductions"]] == ["expiry"]
    assert error.context["reductions"][0]["old"]["months"] == 12
    assert "expiry" in error.message


def test_without_outstanding_points_a_reduction_only_needs_notice() -> None:
    diff = publish(
        HISTORY,
        V2.document.with_changes(**{"expiry.months": 6}),
        published_at=MAR_3,
        effective_at=MAR_3 + timedelta(days=30),
        points_outstanding=False,
    )
    assert diff == "expiry.months: 12 → 6"
