"""Rights gate (PTS-4) and the version lifecycle: status, version in force, publication checks."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jifen.rules import (
    MAX_EFFECTIVE_HORIZON_DAYS,
    NoRulesInForce,
    NotWithdrawable,
    RuleDocument,
    RulesError,
    Version,
    VersionStatus,
    check_publication,
    expires_at,
    latest_published,
    render_diff,
    rights_reductions,
    status_at,
    version_at,
    withdraw,
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


# --- the horizon --------------------------------------------------------------------------------

HORIZON = timedelta(days=MAX_EFFECTIVE_HORIZON_DAYS)


def test_the_horizon_is_a_year_and_longer_than_any_notice_a_document_can_promise() -> None:
    assert MAX_EFFECTIVE_HORIZON_DAYS == 366
    longest = doc(notice_days=365)
    earlier = Version(1, longest, JAN_1, JAN_1, "launch", "")
    # the longest promise of notice still leaves a day inside the horizon
    publish(
        [earlier],
        longest.with_changes(**{"earn.points_per_yuan": 2}),
        published_at=FEB_1,
        effective_at=FEB_1 + timedelta(days=365),
    )


@pytest.mark.parametrize(
    ("versions", "published_at", "effective_at", "code"),
    [
        pytest.param([], JAN_1, JAN_1 + HORIZON, None, id="first version, at the horizon"),
        pytest.param(
            [], JAN_1, JAN_1 + HORIZON + timedelta(microseconds=1), "rules.effective_too_far",
            id="first version, just past it",
        ),
        pytest.param(HISTORY, MAR_3, MAR_3 + HORIZON, None, id="a change, at the horizon"),
        pytest.param(
            HISTORY, MAR_3, MAR_3 + HORIZON + timedelta(seconds=1), "rules.effective_too_far",
            id="a change, a second past it",
        ),
        pytest.param(
            HISTORY, MAR_3, datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC),
            "rules.effective_too_far", id="the end of the calendar",
        ),
    ],
)  # fmt: skip
def test_an_effective_time_may_lie_at_most_the_horizon_after_publication(
    versions: list[Version],
    published_at: datetime,
    effective_at: datetime,
    code: str | None,
) -> None:
    proposed = doc(**{"earn.points_per_yuan": 7})
    if code is None:
        publish(versions, proposed, published_at=published_at, effective_at=effective_at)
        return
    error = refused(
        code,
        422,
        versions=versions,
        proposed=proposed,
        published_at=published_at,
        effective_at=effective_at,
    )
    assert error.context["max_days"] == MAX_EFFECTIVE_HORIZON_DAYS
    assert error.context["latest_effective_at"] == (published_at + HORIZON).isoformat()
    assert "366" in error.message and "天" in error.message


def test_a_publication_time_outside_the_supported_years_is_a_caller_bug() -> None:
    with pytest.raises(RulesError) as caught:
        publish(
            [],
            RuleDocument(),
            published_at=datetime(9999, 12, 31, tzinfo=UTC),
            effective_at=datetime(9999, 12, 31, tzinfo=UTC),
        )
    assert caught.value.code == "rules.invalid_argument"


# --- withdrawal -----------------------------------------------------------------------------------

FAR = JAN_1 + timedelta(days=300)
FEB_2 = FEB_1 + timedelta(days=1)
V2_FAR = Version(2, doc(**{"earn.points_per_yuan": 2, "notice_days": 90}), FEB_1, FAR, "far", "")
V2_WITHDRAWN = dataclasses.replace(V2_FAR, withdrawn_at=FEB_2, withdraw_reason="wrong date")
WITHDRAWN_HISTORY = [V1, V2_WITHDRAWN]


@pytest.mark.parametrize(
    ("now", "status"),
    [
        (FEB_1 - timedelta(seconds=1), VersionStatus.DRAFT),
        (FEB_1, VersionStatus.PUBLISHED),  # announced, as it was until the withdrawal
        (FEB_2 - timedelta(microseconds=1), VersionStatus.PUBLISHED),
        (FEB_2, VersionStatus.WITHDRAWN),
        (FAR, VersionStatus.WITHDRAWN),  # its date came, and it did not take effect
        (FAR + timedelta(days=365), VersionStatus.WITHDRAWN),
    ],
)
def test_a_withdrawn_version_is_announced_until_its_withdrawal_and_withdrawn_ever_after(
    now: datetime, status: VersionStatus
) -> None:
    assert status_at(V2_WITHDRAWN, WITHDRAWN_HISTORY, now) is status


def test_a_withdrawn_version_is_never_in_force_and_never_supersedes() -> None:
    for when in (FAR, FAR + timedelta(days=30)):
        assert version_at(WITHDRAWN_HISTORY, when).number == 1
        assert status_at(V1, WITHDRAWN_HISTORY, when) is VersionStatus.EFFECTIVE
    assert latest_published(WITHDRAWN_HISTORY) == V1
    only_withdrawn = [dataclasses.replace(V2_WITHDRAWN, number=1)]
    assert latest_published(only_withdrawn) is None
    with pytest.raises(NoRulesInForce):
        version_at(only_withdrawn, FAR)


def test_a_withdrawn_version_binds_no_later_publication() -> None:
    """Not its date (order), not its 90 days' notice, not its document (unchanged, diff base)."""
    published_at = FEB_2
    diff = publish(
        WITHDRAWN_HISTORY,
        V2_WITHDRAWN.document,  # the same terms, announced again for a sooner date
        published_at=published_at,
        effective_at=published_at + timedelta(days=30),  # V1's 30 days; before V2's FAR
    )
    assert diff.splitlines() == ["earn.points_per_yuan: 1 → 2", "notice_days: 30 → 90"]
    # while V2 stood, the same publication was refused
    refused(
        "rules.notice_too_short",
        422,
        versions=[V1, V2_FAR],
        proposed=V2_FAR.document.with_changes(**{"earn.points_per_yuan": 3}),
        published_at=published_at,
        effective_at=published_at + timedelta(days=30),
    )
    refused(
        "rules.effective_order",
        409,
        versions=[V1, V2_FAR],
        proposed=V2_FAR.document.with_changes(**{"earn.points_per_yuan": 3}),
        published_at=published_at,
        effective_at=published_at + timedelta(days=90),
    )


NOT_WITHDRAWABLE, ALREADY = "rules.not_withdrawable", "rules.already_withdrawn"


@pytest.mark.parametrize(
    ("version", "now", "code"),
    [
        pytest.param(V3_DRAFT, MAR_3, NOT_WITHDRAWABLE, id="a draft"),
        pytest.param(V2, FEB_1 - timedelta(seconds=1), NOT_WITHDRAWABLE, id="not yet published"),
        pytest.param(V2, FEB_1, None, id="the instant it is published"),
        pytest.param(V2, MAR_3 - timedelta(microseconds=1), None, id="the instant before effect"),
        pytest.param(V2, MAR_3, NOT_WITHDRAWABLE, id="the instant it takes effect"),
        pytest.param(V1, FEB_1, NOT_WITHDRAWABLE, id="in force"),
        pytest.param(V1, MAR_3, NOT_WITHDRAWABLE, id="superseded"),
        pytest.param(V2_WITHDRAWN, FEB_2 + timedelta(days=1), ALREADY, id="withdrawn"),
    ],
)  # fmt: skip
def test_only_an_announced_version_not_yet_in_force_may_be_withdrawn(
    version: Version, now: datetime, code: str | None
) -> None:
    versions = [V1, V2, V3_DRAFT] if version is not V2_WITHDRAWN else WITHDRAWN_HISTORY
    if code is None:
        withdrawn = withdraw(version, versions, now=now, reason="  日期有误 / wrong date  ")
        assert (withdrawn.withdrawn_at, withdrawn.withdraw_reason) == (now, "日期有误 / wrong date")
        assert dataclasses.replace(withdrawn, withdrawn_at=None, withdraw_reason=None) == version
        assert status_at(withdrawn, versions, now) is VersionStatus.WITHDRAWN
        return
    with pytest.raises(RulesError) as caught:
        withdraw(version, versions, now=now, reason="日期有误 / wrong date")
    assert (caught.value.code, caught.value.status) == (code, 409)
    assert isinstance(caught.value, NotWithdrawable)


@pytest.mark.parametrize("reason", ["", "   ", "理" * 501])
def test_a_withdrawal_needs_a_reason_of_at_most_500_characters(reason: str) -> None:
    with pytest.raises(RulesError) as caught:
        withdraw(V2, HISTORY, now=FEB_2, reason=reason)
    assert (caught.value.code, caught.value.status) == ("rules.reason_required", 422)


def test_a_withdrawal_time_is_normalised_to_utc_and_must_be_supported() -> None:
    shanghai = timezone(timedelta(hours=8))
    withdrawn = withdraw(V2, HISTORY, now=FEB_2.astimezone(shanghai), reason="wrong date")
    assert withdrawn.withdrawn_at == FEB_2 and withdrawn.withdrawn_at.utcoffset() == timedelta(0)
    for now in (
        FEB_2.replace(tzinfo=None),
        datetime(9999, 12, 31, 23, tzinfo=timezone(-timedelta(hours=14))),
    ):
        with pytest.raises(RulesError) as caught:
            withdraw(V2, HISTORY, now=now, reason="wrong date")
        assert caught.value.code == "rules.invalid_argument"


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"withdrawn_at": FEB_2}, id="a time without a reason"),
        pytest.param({"withdraw_reason": "why"}, id="a reason without a time"),
        pytest.param({"withdrawn_at": FAR, "withdraw_reason": "late"}, id="at its effective time"),
        pytest.param({"withdrawn_at": JAN_1, "withdraw_reason": "early"}, id="before publication"),
    ],
)
def test_a_version_is_withdrawn_only_between_its_publication_and_its_effective_time(
    changes: dict[str, Any],
) -> None:
    with pytest.raises(RulesError) as caught:
        dataclasses.replace(V2_FAR, **changes)
    assert caught.value.code == "rules.invalid_argument"
    with pytest.raises(RulesError):
        dataclasses.replace(V3_DRAFT, withdrawn_at=FEB_2, withdraw_reason="a draft")
