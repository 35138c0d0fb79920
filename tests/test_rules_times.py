"""The supported time range (2000–2199 UTC): the one check every incoming time passes, the rule
document's campaign times, and the simulated clock (issue 8, defect 5)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jifen.app import SimulatedClock
from jifen.errors import JifenError
from jifen.rules import (
    SUPPORTED_FROM,
    SUPPORTED_UNTIL,
    InvalidRules,
    load_document,
    supported_utc,
)

TICK = timedelta(microseconds=1)
PLUS_14, MINUS_14 = timezone(timedelta(hours=14)), timezone(-timedelta(hours=14))
SHANGHAI = timezone(timedelta(hours=8))


def test_the_supported_range_is_the_years_2000_to_2199_in_utc() -> None:
    assert datetime(2000, 1, 1, tzinfo=UTC) == SUPPORTED_FROM
    assert datetime(2200, 1, 1, tzinfo=UTC) == SUPPORTED_UNTIL


@pytest.mark.parametrize(
    ("value", "utc"),
    [
        pytest.param(SUPPORTED_FROM, SUPPORTED_FROM, id="the first instant"),
        pytest.param(SUPPORTED_UNTIL - TICK, SUPPORTED_UNTIL - TICK, id="the last instant"),
        pytest.param(
            datetime(2000, 1, 1, 8, tzinfo=SHANGHAI), SUPPORTED_FROM, id="the first, in Shanghai"
        ),
        pytest.param(
            datetime(2026, 3, 2, 10, tzinfo=SHANGHAI),
            datetime(2026, 3, 2, 2, tzinfo=UTC),
            id="normalised to UTC",
        ),
        pytest.param(SUPPORTED_FROM - TICK, None, id="just before"),
        pytest.param(SUPPORTED_UNTIL, None, id="just after"),
        pytest.param(datetime(2000, 1, 1, 7, 59, tzinfo=SHANGHAI), None, id="1999 in UTC"),
        pytest.param(datetime(2199, 12, 31, 23, tzinfo=MINUS_14), None, id="2200 in UTC"),
        pytest.param(datetime(9999, 12, 31, 23, 59, 59, tzinfo=MINUS_14), None, id="year 10000"),
        pytest.param(datetime(1, 1, 1, tzinfo=PLUS_14), None, id="year 0"),
        pytest.param(datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC), None, id="year 9999"),
        pytest.param(datetime(2026, 3, 2, 10), None, id="no zone"),
    ],
)
def test_an_incoming_time_is_normalised_to_utc_or_refused(
    value: datetime, utc: datetime | None
) -> None:
    if utc is not None:
        result = supported_utc(value)
        assert result == utc and result.tzinfo is UTC
        return
    with pytest.raises(ValueError) as caught:
        supported_utc(value)
    message = str(caught.value)
    assert " / " in message and any("\u4e00" <= c <= "\u9fff" for c in message)  # bilingual


offsets = st.integers(-(24 * 60 - 1), 24 * 60 - 1).map(lambda m: timezone(timedelta(minutes=m)))


@given(st.datetimes(timezones=offsets))
def test_any_aware_time_is_either_a_supported_utc_instant_or_a_value_error(
    value: datetime,
) -> None:
    """Never an OverflowError, whatever the year and the offset."""
    try:
        result = supported_utc(value)
    except ValueError:
        try:
            instant = value.astimezone(UTC)
        except OverflowError:
            return
        assert not SUPPORTED_FROM <= instant < SUPPORTED_UNTIL
        return
    assert result == value and result.tzinfo is UTC
    assert SUPPORTED_FROM <= result < SUPPORTED_UNTIL


# -- campaign times in a rule document -----------------------------------------------------------


def _campaign(starts_at: str, ends_at: str = "2026-11-12T00:00:00+08:00") -> str:
    return (
        "earn:\n  campaigns:\n    - {name: 双十一, multiplier_bp: 20000, "
        f'starts_at: "{starts_at}", ends_at: "{ends_at}"}}\n'
    )


@pytest.mark.parametrize(
    ("starts_at", "ends_at", "path"),
    [
        ("9999-12-31T23:59:59-14:00", "2026-11-12T00:00:00+08:00", "earn.campaigns.0.starts_at"),
        ("0001-01-01T00:00:00+14:00", "2026-11-12T00:00:00+08:00", "earn.campaigns.0.starts_at"),
        ("1999-12-31T23:59:59Z", "2026-11-12T00:00:00+08:00", "earn.campaigns.0.starts_at"),
        ("2026-11-11T00:00:00+08:00", "2200-01-01T00:00:00Z", "earn.campaigns.0.ends_at"),
        ("2026-11-11T00:00:00+08:00", "9999-12-31T23:59:59-14:00", "earn.campaigns.0.ends_at"),
    ],
)
def test_campaign_times_outside_the_supported_years_are_refused(
    starts_at: str, ends_at: str, path: str
) -> None:
    with pytest.raises(InvalidRules) as caught:
        load_document(_campaign(starts_at, ends_at))
    (error,) = caught.value.context["errors"]
    assert error["path"] == path
    assert "2000–2199" in error["message"]


def test_campaign_times_keep_the_offset_they_were_written_in() -> None:
    document = load_document(_campaign("2026-11-11T00:00:00+08:00"))
    (campaign,) = document.earn.campaigns
    assert campaign.starts_at.utcoffset() == timedelta(hours=8)
    assert campaign.starts_at == datetime(2026, 11, 10, 16, tzinfo=UTC)
    assert document.model_dump(mode="json")["earn"]["campaigns"][0]["starts_at"] == (
        "2026-11-11T00:00:00+08:00"
    )


# -- the simulated clock -------------------------------------------------------------------------

T0 = datetime(2026, 3, 2, 2, tzinfo=UTC)


@pytest.mark.parametrize(
    "when",
    [
        datetime(9999, 12, 31, 23, 59, 59, tzinfo=MINUS_14),
        datetime(1, 1, 1, tzinfo=PLUS_14),
        SUPPORTED_UNTIL,
        datetime(2026, 3, 3),
    ],
    ids=["year 10000", "year 0", "2200", "no zone"],
)
def test_the_clock_refuses_an_unsupported_time_and_stays_where_it_was(when: datetime) -> None:
    clock = SimulatedClock(T0)
    with pytest.raises(JifenError) as caught:
        clock.set(when)
    assert (caught.value.code, caught.value.status) == ("request.invalid", 422)
    assert caught.value.context["field"] == "now"
    assert clock.now() == T0
    with pytest.raises(JifenError):
        SimulatedClock(when)


def test_the_clock_refuses_to_advance_past_the_supported_years() -> None:
    clock = SimulatedClock(T0)
    for delta in (timedelta(days=365 * 200), timedelta.max):
        with pytest.raises(JifenError) as caught:
            clock.advance(delta)
        assert caught.value.code == "request.invalid"
    assert clock.now() == T0
    assert clock.advance(timedelta(days=1)) == T0 + timedelta(days=1)


def test_the_clock_keeps_utc_and_never_goes_back() -> None:
    clock = SimulatedClock(datetime(2026, 3, 2, 10, tzinfo=SHANGHAI))
    assert clock.now() == T0 and clock.now().tzinfo is UTC
    assert clock.set(SUPPORTED_FROM) == T0
    last = (SUPPORTED_UNTIL - TICK).astimezone(SHANGHAI)
    assert clock.set(last) == SUPPORTED_UNTIL - TICK and clock.now().tzinfo is UTC
