"""The compliance linter: per finding id, a minimal document that triggers it and one that does
not; the pitched schemes in examples/ are refused; Jifen's own example rules lint clean; and
publishing a rule the linter refuses changes nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from jifen.app import SimulatedClock, open_alliance
from jifen.compliance import Severity, lint_text
from jifen.compliance.catalog import RULES
from jifen.errors import JifenError
from jifen.rules import RuleDocument

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SCHEME = {"kind": "scheme"}
FEE = {"membership": {"join_fee_fen": 9_900}}

# id: (severity, a minimal description that triggers it, the nearest one that does not)
CASES: dict[str, tuple[Severity, dict[str, Any], dict[str, Any]]] = {
    "PYR-1": (Severity.ERROR, FEE, {"membership": {"join_fee_fen": 0}}),
    "PYR-2": (
        Severity.ERROR,
        {"referral": {"reward_per_recruit_fen": 5_000}},
        {"referral": {"reward_per_recruit_fen": 0}},
    ),
    "PYR-3": (
        Severity.WARN,
        {"referral": {"commission_depth": 2}},
        {"referral": {"commission_depth": 1}},
    ),
    "PYR-4": (
        Severity.BLOCK,
        {**FEE, "scale": {"max_tree_depth": 3, "largest_subtree": 30}},
        {**FEE, "scale": {"max_tree_depth": 3, "largest_subtree": 29}},
    ),
    "PYR-5": (
        Severity.BLOCK,
        {**FEE, "scale": {"max_tree_depth": 3, "largest_subtree": 30, "participants": 120}},
        {**FEE, "scale": {"max_tree_depth": 3, "largest_subtree": 30, "participants": 119}},
    ),
    "PYR-7": (
        Severity.WARN,
        {"referral": {"max_payout_share_of_own_sales_bp": 3_001}},
        {"referral": {"max_payout_share_of_own_sales_bp": 3_000}},
    ),
    "PYR-8": (
        Severity.ERROR,
        {"membership": {"agent_territory_fee_fen": 5_000_000}},
        {"membership": {"agent_territory_fee_fen": 5_000_000, "franchise_filing_no": "F-1"}},
    ),
    "PYR-9": (
        Severity.WARN,
        {"channel": "mini_program", "referral": {"commission_depth": 2}},
        {"channel": "app", "referral": {"commission_depth": 2}},
    ),
    "FUND-2": (
        Severity.ERROR,
        {"points": {"rebate_ratio_bp": 10_000}},
        {"points": {"rebate_ratio_bp": 9_999}},
    ),
    "FUND-3": (
        Severity.BLOCK,
        {"points": {"exit_multiple_bp": 20_000}, "scale": {"participants": 150}},
        {"points": {"exit_multiple_bp": 20_000}, "scale": {"participants": 149}},
    ),
    "FUND-4": (Severity.BLOCK, {"tokens": {"points_token_swap": True}}, {"tokens": {}}),
    "PTS-1": (Severity.ERROR, {"points": {"cash_redeemable": True}}, {"points": {}}),
    "PTS-2": (
        Severity.BLOCK,
        {"points": {"sold_for_money": True}},
        {"points": {"sold_for_money": False}},
    ),
    "PTS-3": (
        Severity.ERROR,
        {"points": {"resale_allowed": True}},
        {"points": {"green_points": True}},
    ),
    "PTS-4": (Severity.ERROR, {"notice_days": 6}, {"notice_days": 7}),
    "PTS-6": (Severity.ERROR, {"max_prize_fen": 5_000_001}, {"max_prize_fen": 5_000_000}),
    "PAY-2": (
        Severity.BLOCK,
        {"funds_path": "platform_wallet"},
        {"funds_path": "licensed_psp_profit_sharing"},
    ),
    "AML-1": (
        Severity.ERROR,
        {"points": {"member_transfers": True}},
        {"points": {"member_transfers": False}},
    ),
}


def lint(description: dict[str, Any]) -> dict[str, list[Severity]]:
    report = lint_text(yaml.safe_dump({**SCHEME, **description}, allow_unicode=True))
    found: dict[str, list[Severity]] = {}
    for f in report.findings:
        found.setdefault(f.id, []).append(f.severity)
    return found


def test_every_rule_the_linter_knows_has_a_case() -> None:
    assert set(CASES) == set(RULES)


@pytest.mark.parametrize("rule_id", sorted(CASES))
def test_a_minimal_description_triggers_the_finding(rule_id: str) -> None:
    severity, triggering, _ = CASES[rule_id]
    assert severity in lint(triggering).get(rule_id, []), lint(triggering)


@pytest.mark.parametrize("rule_id", sorted(CASES))
def test_the_nearest_harmless_description_does_not(rule_id: str) -> None:
    _, _, harmless = CASES[rule_id]
    assert rule_id not in lint(harmless)


def test_commission_beyond_two_levels_or_with_an_entry_fee_is_refused_not_warned() -> None:
    assert lint({"referral": {"commission_depth": 3}})["PYR-3"] == [Severity.ERROR]
    assert lint({**FEE, "referral": {"commission_depth": 2}})["PYR-3"] == [Severity.ERROR]


def test_real_name_transfers_are_a_warning_and_single_merchant_sales_too() -> None:
    assert lint({"points": {"member_transfers": True, "transfers_real_name": True}})["AML-1"] == [
        Severity.WARN
    ]
    sold = {"points": {"sold_for_money": True, "spendable_at_other_merchants": False}}
    assert lint(sold)["PTS-2"] == [Severity.WARN]


def test_an_empty_scheme_description_has_no_findings() -> None:
    assert lint({}) == {}


def test_a_misspelt_promise_is_refused_not_ignored() -> None:
    with pytest.raises(JifenError) as refused:
        lint_text("kind: scheme\npoints:\n  cash_redeemible: true\n")
    assert refused.value.code == "rules.invalid"
    assert "points.cash_redeemible" in refused.value.message


@pytest.mark.parametrize(
    ("example", "expected"),
    [
        # compliance.md: price = pool ÷ points, cash-out at 80 %, forced exit → FUND-2; cash → PTS-1
        ("appreciation-scheme.yaml", {"FUND-2": Severity.ERROR, "PTS-1": Severity.ERROR}),
        # tokens, exchange → FUND-4 (block); points bought and spendable elsewhere → PTS-2 (block)
        ("nfg-scheme.yaml", {"FUND-4": Severity.BLOCK, "PTS-2": Severity.BLOCK}),
    ],
)
def test_the_pitched_schemes_are_refused(example: str, expected: dict[str, Severity]) -> None:
    report = lint_text((EXAMPLES / example).read_text(encoding="utf-8"))
    assert report.kind == "scheme" and report.refused
    found = {(f.id, f.severity) for f in report.findings}
    assert set(expected.items()) <= found


def test_the_example_rule_document_lints_clean() -> None:
    report = lint_text((EXAMPLES / "jifen-rules.yaml").read_text(encoding="utf-8"))
    assert report.kind == "rules" and report.findings == []


TEN_TIMES = {
    "name": "x10",
    "multiplier_bp": 100_000,
    "starts_at": "2026-01-01T00:00:00+08:00",
    "ends_at": "2026-02-01T00:00:00+08:00",
}


@pytest.mark.parametrize(
    ("earn", "refused"),
    [
        ({"points_per_yuan": 99}, False),  # 99 % back: generous, not a promise of the whole
        ({"points_per_yuan": 100}, True),  # 100 % back: 消费全返
        ({"points_per_yuan": 10, "campaigns": [TEN_TIMES]}, True),  # 10 × 10 % during a campaign
    ],
)
def test_a_rule_document_that_gives_back_the_whole_purchase_is_refused(
    earn: dict[str, Any], refused: bool
) -> None:
    report = lint_text(yaml.safe_dump({"earn": earn}))
    assert report.refused is refused
    assert ("FUND-2" in {f.id for f in report.findings}) is refused


def test_publishing_a_rule_the_linter_refuses_changes_nothing(tmp_path: Path) -> None:
    t0 = datetime(2026, 7, 1, tzinfo=UTC)
    ctx = open_alliance(f"sqlite:///{tmp_path / 'l.db'}", secret="s", clock=SimulatedClock(t0))
    full_rebate = RuleDocument.model_validate({"earn": {"points_per_yuan": 100}})
    draft = ctx.rulebook.draft(full_rebate, t0)
    with pytest.raises(JifenError) as refused:
        ctx.rulebook.publish(
            draft.number, effective_at=t0 + timedelta(days=30), reason="r", now=t0,
            points_outstanding=False,
        )  # fmt: skip
    assert refused.value.code == "rules.lint_failed"
    assert refused.value.context["errors"][0]["id"] == "FUND-2"
    assert ctx.rulebook.published() == []
    assert ctx.rulebook.get(draft.number).published_at is None
    ctx.engine.dispose()


def run_lint(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "jifen", "lint", *args], capture_output=True, text=True, timeout=60
    )


def test_the_cli_exits_1_on_refusal_and_0_when_clean_with_json_on_request() -> None:
    bad = run_lint(str(EXAMPLES / "appreciation-scheme.yaml"), "--json")
    assert bad.returncode == 1
    report = json.loads(bad.stdout)
    assert report["refused"] and {"FUND-2", "PTS-1"} <= {f["id"] for f in report["findings"]}
    assert all(
        f["explanation_zh"] and f["explanation_en"] and f["basis"] for f in report["findings"]
    )
    human = run_lint(str(EXAMPLES / "nfg-scheme.yaml"))
    assert human.returncode == 1 and "FUND-4" in human.stdout and "拒绝 refused" in human.stdout
    clean = run_lint(str(EXAMPLES / "jifen-rules.yaml"))
    assert clean.returncode == 0 and "no findings" in clean.stdout


def test_the_cli_refuses_unreadable_input_in_one_line(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("kind: scheme\npoints: [\n")
    for target in (broken, tmp_path / "missing.yaml"):
        result = run_lint(str(target))
        assert result.returncode == 2 and result.stderr.startswith("error[")
        assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_the_api_shows_findings_on_a_draft_and_refuses_to_publish_it(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from jifen.alliance.merchants import add_operator_key
    from jifen.api import create_app

    t0 = datetime(2026, 7, 1, tzinfo=UTC)
    ctx = open_alliance(f"sqlite:///{tmp_path / 'a.db'}", secret="s", clock=SimulatedClock(t0))
    key = "jfo_lint-test-operator-key-0123456789"
    add_operator_key(ctx, key, t0)
    client = TestClient(create_app(ctx))
    auth = {"Authorization": f"Bearer {key}"}
    draft = client.post(
        "/v1/rules/drafts",
        json={"earn": {"points_per_yuan": 100}},
        headers={**auth, "Idempotency-Key": "d1"},
    ).json()
    assert [f["id"] for f in draft["findings"]] == ["FUND-2"]
    refused = client.post(
        f"/v1/rules/versions/{draft['number']}/publish",
        json={"effective_at": t0.isoformat(), "reason": "全返 full rebate"},
        headers={**auth, "Idempotency-Key": "p1"},
    )
    assert refused.status_code == 422
    assert refused.json()["code"] == "rules.lint_failed"
    assert refused.json()["errors"][0]["id"] == "FUND-2"
    assert client.get("/v1/public/rules/history").json() == []
    ctx.engine.dispose()
