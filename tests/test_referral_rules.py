"""The referral terms of the rule document (issue 14 §2) and the pure reward arithmetic.

A rule with three levels, an entry fee, a reward per recruit or a territory fee is refused with
the compliance finding's id: when the document is loaded, over the HTTP rule-draft API (in the
problem's ``errors``) and by ``jifen lint``. Two levels warn (PYR-3) and still publish. Then
``jifen.referral.rewards``: which shares an order carries, rounding, the monthly cap, months.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from jifen import i18n
from jifen.alliance.merchants import add_operator_key
from jifen.api import create_app
from jifen.app import SimulatedClock, open_alliance
from jifen.compliance import Severity, lint_rules, lint_text
from jifen.referral import add_months, capped, order_shares, reward_fen
from jifen.rules import (
    MAX_DEPTH,
    REFUSED_TERMS,
    InvalidRules,
    ReferralRules,
    RuleDocument,
    diff_documents,
    load_document,
    render_diff,
    rights_reductions,
    rule_json_schema,
)
from jifen.web.public import plain
from web_kit import operator as web_operator
from web_kit import site_alliance

T0 = datetime(2026, 7, 1, tzinfo=UTC)
OPERATOR_KEY = "jfo_referral-rules-operator-key-0123"

# (where the term is written, the findings it is refused with); the Done-when four first
PYR18 = ["PYR-1", "PYR-8"]
REFUSED: list[tuple[dict[str, Any], str, list[str]]] = [
    ({"referral": {"depth": 3}}, "referral.depth", ["PYR-3"]),
    ({"referral": {"entry_fee_fen": 9_900}}, "referral.entry_fee_fen", ["PYR-1"]),
    ({"referral": {"reward_per_recruit_fen": 5}}, "referral.reward_per_recruit_fen", ["PYR-2"]),
    ({"referral": {"territory_fee_fen": 5_000_000}}, "referral.territory_fee_fen", PYR18),
    ({"referral": {"depth": 119}}, "referral.depth", ["PYR-3"]),
    ({"referral": {"commission_depth": 3}}, "referral.commission_depth", ["PYR-3"]),
    ({"membership": {"join_fee_fen": 9_900}}, "membership.join_fee_fen", ["PYR-1"]),
    ({"membership": {"membership_fee_fen": 0}}, "membership.membership_fee_fen", ["PYR-1"]),
    ({"purchase_unlocks_commission": True}, "purchase_unlocks_commission", ["PYR-1"]),
    (
        {"vip": {"paid_tier_unlocks_commission": False}},
        "vip.paid_tier_unlocks_commission",
        ["PYR-1"],
    ),
    ({"signup_bonus_fen": 1_000}, "signup_bonus_fen", ["PYR-2"]),
    ({"earn": {"per_recruit_bp": 100}}, "earn.per_recruit_bp", ["PYR-2"]),
    ({"referral": {"recruit_count_bonus": {"10": 5}}}, "referral.recruit_count_bonus", ["PYR-2"]),
    ({"agents": {"agent_fee_fen": 30_000_000}}, "agents.agent_fee_fen", PYR18),
    ({"region_fee_fen": 1}, "region_fee_fen", PYR18),
]
IDS = [path for _, path, _ in REFUSED]


def _refusal(document: dict[str, Any]) -> InvalidRules:
    with pytest.raises(InvalidRules) as caught:
        load_document(json.dumps(document))
    return caught.value


@pytest.mark.parametrize(("document", "path", "findings"), REFUSED, ids=IDS)
def test_a_pyramid_term_is_refused_on_load_with_its_finding(
    document: dict[str, Any], path: str, findings: list[str]
) -> None:
    refusal = _refusal(document)
    errors = refusal.context["errors"]
    assert [(e["path"], e["finding"]) for e in errors] == [(path, f) for f in findings]
    assert all(e["message"].startswith(f"{e['finding']}：") for e in errors)
    assert all(e["term"].startswith(path.split(".")[-1] + ": ") for e in errors)
    assert f"{path}: {findings[0]}" in refusal.message
    with pytest.raises(ValidationError):  # the model itself refuses, whoever validates it
        RuleDocument.model_validate(document)


def test_every_recognised_term_is_refused_in_each_place_an_operator_might_write_it() -> None:
    for term, reasons in REFUSED_TERMS.items():
        for document in ({term: 1}, {"referral": {term: 1}}, {"membership": {term: 1}}):
            errors = _refusal(document).context["errors"]
            assert [e["finding"] for e in errors] == [r.finding for r in reasons], document


def test_every_refused_term_in_a_document_is_named_not_only_the_first() -> None:
    document = {
        "territory_fee_fen": 5,
        "membership": {"join_fee_fen": 1},
        "referral": {"depth": 3, "signup_bonus_fen": 2},
    }
    errors = _refusal(document).context["errors"]
    assert sorted((e["path"], e["finding"]) for e in errors) == [
        ("membership.join_fee_fen", "PYR-1"),
        ("referral.depth", "PYR-3"),
        ("referral.signup_bonus_fen", "PYR-2"),
        ("territory_fee_fen", "PYR-1"),
        ("territory_fee_fen", "PYR-8"),
    ]


def test_a_refused_value_json_cannot_hold_is_still_named() -> None:
    with pytest.raises(InvalidRules) as caught:  # a date key; a recursive anchor
        load_document(
            "referral: {recruit_count_bonus: {2026-01-01: 5}}\nsignup_bonus_fen: &y {k: *y}"
        )
    terms = sorted(e["term"] for e in caught.value.context["errors"])
    assert terms[0].startswith("recruit_count_bonus: {datetime.date(2026, 1, 1)")
    assert terms[1].startswith("signup_bonus_fen: {'k'")


@pytest.mark.parametrize(
    "document",
    [
        {"referral": {"entry_fee": 100}},  # not a recognised name: a plain unknown key
        {"referral": {"depth": 0}},
        {"referral": {"depth": "3"}},  # not an integer: a type error, not a level count
        {"referral": {"depth": True}},
        {"earn": {"category_multipliers_bp": {"cafe": -1}}, "pyramid": "entry_fee_fen"},
    ],
)
def test_other_mistakes_stay_plain_schema_errors(document: dict[str, Any]) -> None:
    errors = _refusal(document).context["errors"]
    assert errors and all("finding" not in e for e in errors)


def test_category_ids_are_ids_not_terms() -> None:
    ok = {"earn": {"category_multipliers_bp": {"signup_bonus_fen": 10_000}}}
    assert load_document(json.dumps(ok)).earn.category_multipliers_bp == {
        "signup_bonus_fen": 10_000
    }


def test_an_indirect_share_is_refused_unless_depth_is_2() -> None:
    errors = _refusal({"referral": {"indirect_bp": 20}}).context["errors"]
    assert [e["path"] for e in errors] == ["referral.indirect_bp"] and "finding" not in errors[0]
    assert load_document("referral: {depth: 2, indirect_bp: 20}").referral.indirect_bp == 20
    assert ReferralRules(depth=2, indirect_bp=0).depth == 2


def test_the_default_document_has_referral_rewards_off() -> None:
    r = RuleDocument().referral
    assert (r.depth, r.direct_bp, r.indirect_bp, r.recruiter_bp) == (1, 0, 0, 0)
    assert r.monthly_cap_fen is None and r.funded_by == "operator_revenue"
    assert lint_rules(RuleDocument()) == []
    assert not [t for t in plain.terms(RuleDocument()) if t.name.startswith("referral")]
    assert MAX_DEPTH == 2


def test_the_json_schema_has_the_referral_section_with_its_limits() -> None:
    schema = rule_json_schema()
    assert schema["properties"]["referral"]["$ref"] == "#/$defs/ReferralRules"
    section = schema["$defs"]["ReferralRules"]
    assert section["additionalProperties"] is False
    assert (
        section["properties"]["depth"]["minimum"],
        section["properties"]["depth"]["maximum"],
    ) == (1, 2)
    assert section["properties"]["funded_by"]["const"] == "operator_revenue"
    assert not set(REFUSED_TERMS) & set(section["properties"])


# -- the linter -------------------------------------------------------------------------------

TWO_LEVELS = {"referral": {"depth": 2, "direct_bp": 30, "indirect_bp": 20}}


def test_two_levels_with_an_indirect_share_warn_pyr3_and_are_not_refused() -> None:
    report = lint_text(yaml.safe_dump(TWO_LEVELS))
    assert [(f.id, f.severity, f.path) for f in report.findings] == [
        ("PYR-3", Severity.WARN, "referral.depth")
    ]
    assert not report.refused and "0.2%" in report.findings[0].detail


def test_two_levels_paying_nothing_at_the_second_warn_nothing() -> None:
    assert (
        lint_rules(RuleDocument.model_validate({"referral": {"depth": 2, "direct_bp": 30}})) == []
    )


@pytest.mark.parametrize(
    ("referral", "warned"),
    [
        ({"depth": 2, "direct_bp": 1_500, "indirect_bp": 1_000, "recruiter_bp": 500}, False),
        ({"depth": 2, "direct_bp": 1_500, "indirect_bp": 1_000, "recruiter_bp": 501}, True),
        ({"direct_bp": 3_000, "recruiter_bp": 1}, True),
        ({"direct_bp": 3_000}, False),
    ],
)
def test_promoters_taking_over_30_percent_of_one_order_warn_pyr7(
    referral: dict[str, Any], warned: bool
) -> None:
    findings = lint_rules(RuleDocument.model_validate({"referral": referral}))
    pyr7 = [f for f in findings if f.id == "PYR-7"]
    assert bool(pyr7) is warned and all(f.severity is Severity.WARN for f in pyr7)


def _lint_cli(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "jifen", "lint", str(path), *args],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_jifen_lint_reports_refused_terms_as_findings_and_exits_1(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("title_en: Pyramid\nreferral: {depth: 3, territory_fee_fen: 5000000}\n")
    as_json = _lint_cli(bad, "--json")
    assert as_json.returncode == 1, as_json.stderr
    report = json.loads(as_json.stdout)
    assert report["refused"] and report["name"] == "Pyramid"
    assert [(f["id"], f["severity"], f["path"]) for f in report["findings"]] == [
        ("PYR-3", "error", "referral.depth"),
        ("PYR-1", "error", "referral.territory_fee_fen"),
        ("PYR-8", "error", "referral.territory_fee_fen"),
    ]
    assert all(
        f["basis"] and f["explanation_zh"] and f["explanation_en"] for f in report["findings"]
    )
    assert [f["detail"] for f in report["findings"]] == [
        "depth: 3",
        "territory_fee_fen: 5000000",
        "territory_fee_fen: 5000000",
    ]
    human = _lint_cli(bad)
    assert human.returncode == 1 and "拒绝 refused" in human.stdout
    assert "PYR-8" in human.stdout and "依据 basis" in human.stdout and not human.stderr


def test_jifen_lint_still_reports_a_malformed_document_as_malformed(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("referral: {depth: 3}\nearn: {points_per_yuan: 1.5}\n")
    assert _lint_cli(bad).returncode == 1  # refused on its pyramid term first
    typo = tmp_path / "typo.yaml"
    typo.write_text("referral: {direct_pb: 30}\n")
    result = _lint_cli(typo)
    assert result.returncode == 2 and "rules.invalid" in result.stderr


def test_jifen_lint_warns_on_two_levels_and_exits_0(tmp_path: Path) -> None:
    two = tmp_path / "two.yaml"
    two.write_text(yaml.safe_dump(TWO_LEVELS))
    result = _lint_cli(two)
    assert (
        result.returncode == 0 and "PYR-3" in result.stdout and "需确认 warnings" in result.stdout
    )


# -- over HTTP ----------------------------------------------------------------------------------


@pytest.fixture
def operator(db_url: str) -> Iterator[TestClient]:
    ctx = open_alliance(db_url, secret="s", clock=SimulatedClock(T0))
    add_operator_key(ctx, OPERATOR_KEY, T0)
    try:
        with TestClient(create_app(ctx)) as client:
            client.headers["Authorization"] = f"Bearer {OPERATOR_KEY}"
            yield client
    finally:
        ctx.engine.dispose()


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_the_draft_api_refuses_a_pyramid_term_with_the_finding_in_errors(
    operator: TestClient, lang: str
) -> None:
    r = operator.post(
        "/v1/rules/drafts",
        json={
            "referral": {"depth": 3, "entry_fee_fen": 100},
            "membership": {"signup_bonus_fen": 1},
        },
        headers={"Idempotency-Key": f"bad-{lang}", "Accept-Language": lang},
    )
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["code"] == "request.invalid"
    found = sorted((e["path"], e["type"], e["finding"]) for e in body["errors"])
    assert found == [
        ("body.membership.signup_bonus_fen", "compliance_refused", "PYR-2"),
        ("body.referral.depth", "compliance_refused", "PYR-3"),
        ("body.referral.entry_fee_fen", "compliance_refused", "PYR-1"),
    ]
    first = body["errors"][0]
    assert first["finding"] in body["detail"] and first["finding"] in first["message"]
    chinese = any("\u4e00" <= ch <= "\u9fff" for ch in first["message"])
    assert chinese is (lang == "zh-CN")
    assert operator.get("/v1/rules/versions").json() == []  # nothing was saved


def test_two_levels_draft_with_a_pyr3_warning_and_publish(operator: TestClient) -> None:
    draft = operator.post("/v1/rules/drafts", json=TWO_LEVELS, headers={"Idempotency-Key": "d2"})
    assert draft.status_code == 201, draft.text
    assert [(f["id"], f["severity"]) for f in draft.json()["findings"]] == [("PYR-3", "warn")]
    published = operator.post(
        f"/v1/rules/versions/{draft.json()['number']}/publish",
        json={
            "effective_at": (T0 + timedelta(days=30)).isoformat(),
            "reason": "推荐奖励 referrals",
        },
        headers={"Idempotency-Key": "p2"},
    )
    assert published.status_code == 200, published.text
    assert published.json()["status"] == "published"
    assert "+ referral.indirect_bp: 20" in published.json()["diff"]


def test_the_operator_console_shows_a_refused_term_with_its_finding(tmp_path: Path) -> None:
    with site_alliance(f"sqlite:///{tmp_path / 'w.db'}") as tools:
        b = web_operator(tools.server, "en")
        form = b.page("/operator/rules/draft")
        key = re.search(r'name="form_key" value="([^"]+)"', form)
        assert key, form[:2000]
        r = b.submit(
            "/operator/rules/drafts",
            {"document": "referral: {depth: 3}\n", "form_key": key.group(1)},
        )
        assert r.status_code == 422
        assert 'data-testid="document-error" data-finding="PYR-3"' in r.text
        assert "referral.depth" in r.text and "refused (PYR-3)" in r.text


# -- diff, rights, plain words -------------------------------------------------------------------


def test_a_referral_change_is_in_the_diff_and_reduces_no_rights() -> None:
    before = RuleDocument.model_validate(TWO_LEVELS)
    after = before.with_changes(
        **{"referral.depth": 1, "referral.indirect_bp": 0, "referral.direct_bp": 10}
    )
    assert render_diff(diff_documents(before, after)).splitlines() == [
        "referral.depth: 2 → 1",
        "referral.direct_bp: 30 → 10",
        "referral.indirect_bp: 20 → 0",
    ]
    capped_doc = after.with_changes(**{"referral.monthly_cap_fen": 50_000})
    assert (
        render_diff(diff_documents(after, capped_doc)) == "referral.monthly_cap_fen: null → 50000"
    )
    # prospective, like earn terms: lowering every share while points are out is notice-only
    assert rights_reductions(before, after) == [] and rights_reductions(after, RuleDocument()) == []


def test_the_plain_words_say_the_referral_terms_only_when_some_share_is_paid() -> None:
    doc = RuleDocument.model_validate(
        {
            "referral": {
                "depth": 2, "direct_bp": 30, "indirect_bp": 20, "recruiter_bp": 50,
                "recruiter_months": 12, "monthly_cap_fen": 50_000,
            }
        }
    )  # fmt: skip
    terms = {t.name: t for t in plain.terms(doc)}
    for term in terms.values():  # every sentence is in both catalogues, with exactly its fields
        for lang in i18n.LANGUAGES:
            assert i18n.fields(i18n.catalogue(lang)[term.msgid]) == set(term.fields), term
    said = i18n.text(terms["referral_direct"].msgid, "en", **terms["referral_direct"].fields)
    assert "0.3%" in said and "not points" in said
    assert terms["referral_direct"].fields == {"percent": "0.3"}
    assert terms["referral_indirect"].fields == {"percent": "0.2"}
    assert terms["referral_recruiter"].fields == {"percent": "0.5", "months": "12"}
    assert terms["referral_cap"].fields == {"yuan": "500.00"}
    assert "referral_never" in terms
    only_recruiter = RuleDocument.model_validate({"referral": {"recruiter_bp": 50}})
    names = [t.name for t in plain.terms(only_recruiter) if t.name.startswith("referral")]
    assert names == ["referral_recruiter", "referral_never"]
    nothing_paid = RuleDocument.model_validate({"referral": {"depth": 2, "monthly_cap_fen": 1}})
    assert not [t for t in plain.terms(nothing_paid) if t.name.startswith("referral")]


# -- jifen.referral.rewards -----------------------------------------------------------------------

PAID = datetime(2026, 8, 15, 12, tzinfo=UTC)
BOTH = ReferralRules(depth=2, direct_bp=30, indirect_bp=20, recruiter_bp=50, recruiter_months=12)


def _shares(terms: ReferralRules, **kw: Any) -> list[tuple[str, str, int]]:
    kw = {"buyer_id": "c", "referrers": ["b", "a"], "recruiter": None, "paid_at": PAID, **kw}
    return [(s.promoter_id, s.kind, s.share_bp) for s in order_shares(terms, **kw)]


def test_depth_1_pays_the_referrer_only_and_depth_2_pays_both() -> None:
    one = ReferralRules(direct_bp=30)
    assert _shares(one) == [("b", "direct", 30)]
    assert _shares(BOTH) == [("b", "direct", 30), ("a", "indirect", 20)]
    assert _shares(BOTH, referrers=["b"]) == [("b", "direct", 30)]
    assert _shares(BOTH, referrers=[]) == []
    assert _shares(ReferralRules(depth=2, direct_bp=30)) == [("b", "direct", 30)]


def test_nobody_earns_on_their_own_purchase() -> None:
    assert _shares(BOTH, buyer_id="b") == [("a", "indirect", 20)]
    assert _shares(BOTH, buyer_id="m", referrers=[], recruiter=("m", PAID)) == []


@pytest.mark.parametrize(
    ("bound_at", "paid"),
    [
        (datetime(2025, 8, 15, 12, tzinfo=UTC), False),  # exactly 12 months on: the end, excluded
        (datetime(2025, 8, 15, 12, 0, 1, tzinfo=UTC), True),  # one second short of 12 months
        (PAID, True),  # bound at the very moment of payment: the start, included
        (PAID + timedelta(seconds=1), False),  # bound after the order was paid
    ],
)
def test_the_recruiter_is_paid_only_within_the_months_from_binding(
    bound_at: datetime, paid: bool
) -> None:
    shares = _shares(BOTH, referrers=[], recruiter=("r", bound_at))
    assert shares == ([("r", "recruiter", 50)] if paid else [])


@pytest.mark.parametrize(
    ("basis_fen", "share_bp", "fen"),
    [
        (9_999, 30, 29),  # ¥99.99 × 0.3% = 29.997 fen → 29
        (10_000, 30, 30),
        (10_000, 20, 20),
        (333, 1, 0),  # 0.0333 fen → 0
        (0, 3_000, 0),
        (1_000_000_000_000, 3_000, 300_000_000_000),
    ],
)
def test_reward_fen_rounds_down_to_the_fen(basis_fen: int, share_bp: int, fen: int) -> None:
    assert reward_fen(basis_fen, share_bp) == fen


def test_reward_fen_refuses_negative_inputs() -> None:
    with pytest.raises(ValueError):
        reward_fen(-1, 30)
    with pytest.raises(ValueError):
        reward_fen(100, -1)


def test_the_reward_crossing_the_cap_keeps_the_rest_of_the_room_and_later_ones_nothing() -> None:
    cap, accrued, kept = 1_000, 0, []
    for fen in (400, 400, 400, 100):
        got, taken = capped(fen, accrued, cap)
        kept.append((got, taken))
        accrued += got
    assert kept == [(400, 0), (400, 0), (200, 200), (0, 100)]
    assert capped(500, 0, None) == (500, 0)
    assert capped(500, 1_500, 1_000) == (0, 500)  # already over (a cap lowered mid-month)


@settings(deadline=None)  # pure and fast; a loaded machine must not make it flaky
@given(
    rewards=st.lists(st.integers(min_value=0, max_value=10**9), max_size=30),
    cap=st.one_of(st.none(), st.integers(min_value=1, max_value=10**10)),
)
def test_capped_never_lets_a_month_exceed_the_cap_and_loses_no_fen(
    rewards: list[int], cap: int | None
) -> None:
    accrued = 0
    for fen in rewards:
        kept, taken = capped(fen, accrued, cap)
        assert kept >= 0 and taken >= 0 and kept + taken == fen
        accrued += kept
        assert cap is None or accrued <= cap
    if cap is None or sum(rewards) <= cap:
        assert accrued == sum(rewards)
    else:
        assert accrued == cap  # the room is used up, never left partly empty


@pytest.mark.parametrize(
    ("start", "months", "end"),
    [
        (datetime(2026, 1, 31, 9, tzinfo=UTC), 1, datetime(2026, 2, 28, 9, tzinfo=UTC)),
        (datetime(2028, 1, 31, 9, tzinfo=UTC), 1, datetime(2028, 2, 29, 9, tzinfo=UTC)),  # leap
        (datetime(2026, 3, 31, tzinfo=UTC), 1, datetime(2026, 4, 30, tzinfo=UTC)),
        (datetime(2026, 11, 30, tzinfo=UTC), 3, datetime(2027, 2, 28, tzinfo=UTC)),
        (datetime(2026, 12, 31, tzinfo=UTC), 12, datetime(2027, 12, 31, tzinfo=UTC)),
        (datetime(2026, 12, 15, tzinfo=UTC), 1, datetime(2027, 1, 15, tzinfo=UTC)),
        (datetime(2026, 1, 15, tzinfo=UTC), 36, datetime(2029, 1, 15, tzinfo=UTC)),
        (datetime(2026, 2, 28, tzinfo=UTC), 1, datetime(2026, 3, 28, tzinfo=UTC)),
    ],
)
def test_add_months_keeps_the_day_or_takes_the_months_last(
    start: datetime, months: int, end: datetime
) -> None:
    assert add_months(start, months) == end


@settings(deadline=None)
@given(
    start=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2190, 12, 31)),
    months=st.integers(min_value=0, max_value=120),
)
def test_add_months_lands_in_the_right_month_never_earlier(start: datetime, months: int) -> None:
    end = add_months(start, months)
    assert (end.year * 12 + end.month) - (start.year * 12 + start.month) == months
    assert end.day <= start.day and end.time() == start.time() and end >= start
