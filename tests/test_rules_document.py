"""Rule documents: defaults, parsing YAML/JSON, refusing bad input by field path, schema, diffs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from jifen.rules import (
    Change,
    InvalidRules,
    RuleDocument,
    diff_documents,
    load_document,
    render_diff,
    rule_json_schema,
)

SCHEMA_FILE = Path(__file__).parent.parent / "docs" / "rules.schema.json"

PAYBACK_STYLE = """
alliance: 城市积分联盟
title_zh: 积分规则
title_en: Points rules
notice_days: 30
point_value: {fen_per_point: 1}
issue_price: {fen_per_1000_points: 1200}
earn:
  points_per_yuan: 1
  min_spend_fen: 1000
  max_points_per_order: 5000
  category_multipliers_bp: {food: 15000}
  merchant_multipliers_bp: {m-42: 20000}
  campaigns:
    - name: 双十一
      starts_at: 2026-11-11T00:00:00+08:00
      ends_at: 2026-11-12T00:00:00+08:00
      multiplier_bp: 30000
      categories: [food]
expiry: {policy: fixed_month_end, months: 36, month_of_year: 9}
redemption: {min_points: 100, max_order_share_bp: 5000, excluded_categories: [tobacco]}
refund: {shortfall: record_debt}
"""


def doc(**changes: Any) -> RuleDocument:
    return RuleDocument().with_changes(**changes)


def test_the_default_document_is_valid_and_values_100_points_at_one_yuan() -> None:
    default = RuleDocument()
    assert default.point_value.fen_per_point * 100 == 100  # 100 points = 100 fen = ¥1
    assert default.issue_price.fen_per_1000_points == 1200  # ¥0.012 per point
    assert default.expiry.policy == "rolling"
    assert default.expiry.months == 12
    assert RuleDocument.model_validate({}) == default


def test_a_yaml_document_loads_with_every_term() -> None:
    loaded = load_document(PAYBACK_STYLE)
    assert loaded.alliance == "城市积分联盟"
    assert loaded.earn.merchant_multipliers_bp == {"m-42": 20000}
    assert loaded.earn.campaigns[0].name == "双十一"
    assert loaded.earn.campaigns[0].starts_at.utcoffset() is not None
    assert loaded.expiry.month_of_year == 9
    assert loaded.refund.shortfall == "record_debt"


def test_json_text_loads_to_the_same_document_as_yaml() -> None:
    from_yaml = load_document(PAYBACK_STYLE)
    as_json = json.dumps(from_yaml.model_dump(mode="json"), ensure_ascii=False)
    assert load_document(as_json) == from_yaml


def test_a_document_is_frozen() -> None:
    with pytest.raises(ValidationError):
        RuleDocument().notice_days = 7  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ("earn: {points_per_yuan: 101}", "earn.points_per_yuan"),
        ("earn: {points_per_yuan: -1}", "earn.points_per_yuan"),
        ("earn: {min_spend_fen: 1.5}", "earn.min_spend_fen"),  # no floats, ever
        ("earn: {min_spend_fen: '100'}", "earn.min_spend_fen"),  # no coercion from text
        ("earn: {points_per_yuan: true}", "earn.points_per_yuan"),
        ("earn: {point_per_yuan: 1}", "earn.point_per_yuan"),  # misspelt key is refused
        ("notice_days: 6", "notice_days"),
        ("point_value: {fen_per_point: 0}", "point_value.fen_per_point"),
        ("issue_price: {fen_per_1000_points: 999}", "issue_price"),
        ("point_value: {fen_per_point: 2}", "issue_price"),  # 1200 no longer covers 2000
        ("expiry: {policy: fixed_month_end}", "expiry.month_of_year"),
        ("expiry: {policy: rolling, month_of_year: 9}", "expiry.month_of_year"),
        ("expiry: {policy: forever}", "expiry.policy"),
        ("expiry: {months: 0}", "expiry.months"),
        ("redemption: {max_order_share_bp: 10001}", "redemption.max_order_share_bp"),
        ("redemption: {min_points: 0}", "redemption.min_points"),
        ("refund: {shortfall: forgive}", "refund.shortfall"),
        ("earn: {category_multipliers_bp: {food: 100001}}", "earn.category_multipliers_bp.food"),
        (
            "earn: {campaigns: [{name: x, starts_at: 2026-01-01 00:00:00, "
            "ends_at: 2026-02-01T00:00:00+08:00, multiplier_bp: 20000}]}",
            "earn.campaigns.0.starts_at",  # naive datetimes are refused
        ),
        (
            "earn: {campaigns: [{name: x, starts_at: 2026-02-01T00:00:00+08:00, "
            "ends_at: 2026-02-01T00:00:00+08:00, multiplier_bp: 20000}]}",
            "earn.campaigns.0.ends_at",
        ),
        (
            "earn: {campaigns: [{name: x, starts_at: 2026-01-01T00:00:00+08:00, "
            "ends_at: 2026-02-01T00:00:00+08:00, multiplier_bp: 9999}]}",
            "earn.campaigns.0.multiplier_bp",
        ),
        ("earn: {points_per_yuan: 1", "(document)"),  # YAML syntax error
        ("- 1\n- 2\n", "(document)"),  # not a mapping
        ("", "(document)"),  # empty text is not a rule set
    ],
)
def test_a_bad_document_is_refused_naming_the_first_bad_field(text: str, path: str) -> None:
    with pytest.raises(InvalidRules) as caught:
        load_document(text)
    error = caught.value
    assert error.code == "rules.invalid"
    assert error.status == 422
    assert error.context["errors"][0]["path"] == path
    if path != "(document)":
        assert f"{path}:" in error.message
    assert "\n" not in error.message


def test_a_category_key_may_not_contain_a_dot_since_it_becomes_a_diff_path() -> None:
    with pytest.raises(InvalidRules) as caught:
        load_document("earn: {category_multipliers_bp: {a.b: 10000}}")
    assert caught.value.context["errors"][0]["path"].startswith("earn.category_multipliers_bp.a.b")


@pytest.mark.parametrize(
    "text",
    [
        "earn: {points_per_yuan: 1, points_per_yuan: 5}",
        '{"notice_days": 30, "notice_days": 31}',
    ],
)
def test_a_repeated_key_is_refused_rather_than_the_last_one_winning(text: str) -> None:
    with pytest.raises(InvalidRules, match="duplicate key"):
        load_document(text)


def test_yaml_merge_keys_still_work_and_explicit_keys_override_them() -> None:
    loaded = load_document(
        "earn:\n  <<: {points_per_yuan: 2, min_spend_fen: 3}\n  points_per_yuan: 4\n"
    )
    assert (loaded.earn.points_per_yuan, loaded.earn.min_spend_fen) == (4, 3)


def test_every_problem_is_listed_not_only_the_first() -> None:
    with pytest.raises(InvalidRules) as caught:
        load_document("notice_days: 1\nearn: {points_per_yuan: 101}")
    paths = [e["path"] for e in caught.value.context["errors"]]
    assert paths == ["notice_days", "earn.points_per_yuan"]
    assert "(+1 more)" in caught.value.message


def test_the_committed_schema_file_is_the_generated_schema() -> None:
    expected = json.dumps(rule_json_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    assert SCHEMA_FILE.read_text(encoding="utf-8") == expected, (
        "docs/rules.schema.json is stale; regenerate it with json.dumps(rule_json_schema(), "
        "indent=2, sort_keys=True, ensure_ascii=False) plus a trailing newline"
    )


def test_the_schema_has_an_id_a_title_and_forbids_unknown_keys() -> None:
    schema = rule_json_schema()
    assert schema["$id"] == "urn:jifen:schema:rules:1"
    assert "积分规则" in schema["title"]
    assert schema["additionalProperties"] is False
    assert schema["$defs"]["EarnRules"]["properties"]["points_per_yuan"]["type"] == "integer"


# --- diffs ------------------------------------------------------------------------------------


def test_a_changed_term_renders_old_arrow_new() -> None:
    changes = diff_documents(doc(), doc(**{"earn.points_per_yuan": 2}))
    assert changes == [Change("earn.points_per_yuan", 1, 2)]
    assert render_diff(changes) == "earn.points_per_yuan: 1 → 2"


def test_map_entries_are_added_and_removed_by_dotted_path() -> None:
    food = doc(**{"earn.category_multipliers_bp": {"food": 15000}})
    assert render_diff(diff_documents(doc(), food)) == "+ earn.category_multipliers_bp.food: 15000"
    assert render_diff(diff_documents(food, doc())) == "- earn.category_multipliers_bp.food: 15000"


def test_a_term_set_from_null_is_a_change_not_an_addition() -> None:
    capped = doc(**{"earn.max_points_per_order": 500})
    assert render_diff(diff_documents(doc(), capped)) == "earn.max_points_per_order: null → 500"


def test_lists_are_compared_whole_and_changes_are_sorted_by_path() -> None:
    new = doc(
        **{
            "redemption.excluded_categories": ["tobacco", "lottery"],
            "alliance": "北方联盟",
            "expiry.months": 24,
        }
    )
    changes = diff_documents(doc(), new)
    assert [c.path for c in changes] == [
        "alliance",
        "expiry.months",
        "redemption.excluded_categories",
    ]
    assert changes[2] == Change("redemption.excluded_categories", [], ["tobacco", "lottery"])
    assert 'alliance: "jifen" → "北方联盟"' in render_diff(changes)


def test_against_no_previous_version_every_term_is_added() -> None:
    changes = diff_documents(None, RuleDocument())
    assert all(c.kind == "added" and c.old is None for c in changes)
    paths = [c.path for c in changes]
    assert paths == sorted(paths)
    assert "point_value.fen_per_point" in paths
    assert "earn.max_points_per_order" in paths  # a null term is still listed
    assert "+ notice_days: 30" in render_diff(changes).splitlines()


documents = st.builds(
    lambda ppy, months, share, cats: doc(
        **{
            "earn.points_per_yuan": ppy,
            "expiry.months": months,
            "redemption.max_order_share_bp": share,
            "earn.category_multipliers_bp": cats,
        }
    ),
    st.integers(0, 100),
    st.integers(1, 120),
    st.integers(1, 10_000),
    st.dictionaries(st.sampled_from(["food", "fuel", "books"]), st.integers(0, 100_000)),
)


@given(documents)
def test_a_document_diffed_with_itself_is_empty(document: RuleDocument) -> None:
    assert diff_documents(document, document) == []


@given(documents, documents)
def test_a_diff_is_empty_exactly_when_the_documents_are_equal(
    a: RuleDocument, b: RuleDocument
) -> None:
    assert (diff_documents(a, b) == []) == (a == b)
