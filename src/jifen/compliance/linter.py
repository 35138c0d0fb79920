"""The compliance linter: a rule document or a scheme description in, findings out (pure).

Each finding has a stable id (the ``compliance.md`` rule id), a severity (block: must not ship;
error: refuse the configuration; warn: the operator must acknowledge), the legal basis and a plain
explanation in zh-CN and en. Publishing a rule runs ``lint_rules`` and refuses on error or block.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from jifen.compliance.catalog import RULES
from jifen.compliance.scheme import SchemeDescription
from jifen.rules import InvalidRules, RuleDocument, load_document
from jifen.rules._document import parse_mapping, validation_errors

FULL_REBATE_BP = 10_000  # 消费全返: rebates of 100% of spend or more
DIRECT_SALES_CAP_BP = 3_000  # 直销: at most 30% of the seller's own direct sales
LOTTERY_CAP_FEN = 5_000_000  # ¥50,000
PYR4_LEVELS, PYR4_PEOPLE = 3, 30
PYR5_PEOPLE, PYR5_FEN = 120, 250_000_000  # ¥2.5M
FUND3_PEOPLE, FUND3_FEN = 150, 100_000_000  # ¥1M
MIN_NOTICE_DAYS = 7


class Severity(enum.StrEnum):
    BLOCK = "block"
    ERROR = "error"
    WARN = "warn"


@dataclass(frozen=True)
class Finding:
    id: str
    severity: Severity
    path: str  # the field that triggered it
    detail: str  # what in this document triggered it
    basis: str = field(init=False)
    explanation_zh: str = field(init=False)
    explanation_en: str = field(init=False)

    def __post_init__(self) -> None:
        rule = RULES[self.id]
        object.__setattr__(self, "basis", rule.basis)
        object.__setattr__(self, "explanation_zh", rule.zh)
        object.__setattr__(self, "explanation_en", rule.en)

    @property
    def refuses(self) -> bool:
        return self.severity is not Severity.WARN

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "severity": self.severity.value,
            "path": self.path,
            "detail": self.detail,
            "basis": self.basis,
            "explanation_zh": self.explanation_zh,
            "explanation_en": self.explanation_en,
        }


def refused(findings: list[Finding]) -> bool:
    return any(f.refuses for f in findings)


# -- scheme descriptions ---------------------------------------------------------------------------


def lint_scheme(s: SchemeDescription) -> list[Finding]:
    return sorted(_scheme_findings(s), key=lambda f: (list(Severity).index(f.severity), f.id))


def _scheme_findings(s: SchemeDescription) -> Iterator[Finding]:
    p, m, r, t = s.points, s.membership, s.referral, s.tokens
    fee = m.join_fee_fen > 0 or m.agent_territory_fee_fen > 0 or m.paid_tier_unlocks_commission
    headcount = r.reward_per_recruit_fen > 0 or r.reward_references_recruit_count
    if m.join_fee_fen:
        yield Finding(
            "PYR-1", Severity.ERROR, "membership.join_fee_fen", f"¥{m.join_fee_fen / 100:,.2f}"
        )
    if m.paid_tier_unlocks_commission:
        yield Finding("PYR-1", Severity.ERROR, "membership.paid_tier_unlocks_commission", "true")
    if m.agent_territory_fee_fen:
        yield Finding(
            "PYR-1", Severity.ERROR, "membership.agent_territory_fee_fen",
            f"¥{m.agent_territory_fee_fen / 100:,.2f}",
        )  # fmt: skip
        if not m.franchise_filing_no:
            yield Finding("PYR-8", Severity.ERROR, "membership.franchise_filing_no", "missing")
    if r.reward_per_recruit_fen:
        yield Finding("PYR-2", Severity.ERROR, "referral.reward_per_recruit_fen", "per recruit")
    if r.reward_references_recruit_count:
        yield Finding("PYR-2", Severity.ERROR, "referral.reward_references_recruit_count", "true")
    if r.commission_depth >= 2:
        severe = r.commission_depth > 2 or fee or headcount
        yield Finding(
            "PYR-3", Severity.ERROR if severe else Severity.WARN, "referral.commission_depth",
            f"{r.commission_depth} levels",
        )  # fmt: skip
    tree = s.scale
    criminal = tree.max_tree_depth >= PYR4_LEVELS and tree.largest_subtree >= PYR4_PEOPLE
    if (fee or headcount) and criminal:
        yield Finding(
            "PYR-4", Severity.BLOCK, "scale",
            f"{tree.max_tree_depth} levels, {tree.largest_subtree} people",
        )  # fmt: skip
        if tree.participants >= PYR5_PEOPLE or tree.collected_fen >= PYR5_FEN:
            yield Finding("PYR-5", Severity.BLOCK, "scale", f"{tree.participants} people")
    if r.max_payout_share_of_own_sales_bp > DIRECT_SALES_CAP_BP:
        yield Finding(
            "PYR-7", Severity.WARN, "referral.max_payout_share_of_own_sales_bp",
            f"{r.max_payout_share_of_own_sales_bp / 100:g}% > 30%",
        )  # fmt: skip
    promises = list(_return_promises(s))
    yield from promises
    wechat = s.channel in ("mini_program", "official_account")
    if wechat and (r.commission_depth >= 2 or p.cash_redeemable or p.rebate_ratio_bp > 0):
        yield Finding("PYR-9", Severity.WARN, "channel", s.channel)
    if promises and (s.scale.participants >= FUND3_PEOPLE or s.scale.collected_fen >= FUND3_FEN):
        yield Finding("FUND-3", Severity.BLOCK, "scale", f"{s.scale.participants} people")
    for path, on in (
        ("tokens.enabled", t.enabled),
        ("tokens.exchange_listing", t.exchange_listing),
        ("tokens.points_token_swap", t.points_token_swap),
    ):
        if on:
            yield Finding("FUND-4", Severity.BLOCK, path, "true")
    if p.cash_redeemable:
        yield Finding("PTS-1", Severity.ERROR, "points.cash_redeemable", "true")
    if p.sold_for_money:
        across = p.spendable_at_other_merchants
        yield Finding(
            "PTS-2", Severity.BLOCK if across else Severity.WARN, "points.sold_for_money",
            "spendable at other merchants" if across else "single merchant: prepaid-card caps",
        )  # fmt: skip
    if p.resale_allowed or (p.green_points and p.sold_for_money):
        yield Finding("PTS-3", Severity.ERROR, "points.resale_allowed", "points can be traded")
    if s.notice_days < MIN_NOTICE_DAYS:
        yield Finding("PTS-4", Severity.ERROR, "notice_days", f"{s.notice_days} < 7 days")
    if s.changes_issued_points:
        yield Finding("PTS-4", Severity.ERROR, "changes_issued_points", "true")
    if s.max_prize_fen > LOTTERY_CAP_FEN:
        yield Finding("PTS-6", Severity.ERROR, "max_prize_fen", f"¥{s.max_prize_fen / 100:,.0f}")
    if s.funds_path == "platform_wallet":
        yield Finding("PAY-2", Severity.BLOCK, "funds_path", "platform_wallet")
    if p.member_sales:
        yield Finding("AML-1", Severity.ERROR, "points.member_sales", "points sold between members")
    elif p.member_transfers:
        severity = Severity.WARN if p.transfers_real_name else Severity.ERROR
        yield Finding("AML-1", severity, "points.member_transfers", "transfers between members")


def _return_promises(s: SchemeDescription) -> Iterator[Finding]:
    """FUND-2: the detectors of a promise of return (条例 art 2: 许诺…给予其他投资回报)."""
    p = s.points
    if p.price_formula != "fixed":
        yield Finding("FUND-2", Severity.ERROR, "points.price_formula", p.price_formula)
    if p.guaranteed_cash_rate:
        yield Finding("FUND-2", Severity.ERROR, "points.guaranteed_cash_rate", "true")
    if p.redeem_haircut_bp:
        yield Finding(
            "FUND-2", Severity.ERROR, "points.redeem_haircut_bp", f"{p.redeem_haircut_bp / 100:g}%"
        )
    if p.exit_multiple_bp:
        yield Finding(
            "FUND-2", Severity.ERROR, "points.exit_multiple_bp", f"{p.exit_multiple_bp / 10_000:g}×"
        )
    if p.release_rate_bp_per_day:
        yield Finding(
            "FUND-2", Severity.ERROR, "points.release_rate_bp_per_day",
            f"{p.release_rate_bp_per_day / 100:g}%/day",
        )  # fmt: skip
    if p.rebate_ratio_bp >= FULL_REBATE_BP:
        yield Finding(
            "FUND-2", Severity.ERROR, "points.rebate_ratio_bp", f"{p.rebate_ratio_bp / 100:g}%"
        )


# -- Jifen rule documents --------------------------------------------------------------------------


def max_rebate_bp(doc: RuleDocument) -> int:
    """The most an order can get back in point value, as a share of its amount (ROUND_DOWN):
    base rate × the highest merchant or category multiplier × the best campaign × value."""
    earn = doc.earn
    multiplier = max(
        [10_000, *earn.merchant_multipliers_bp.values(), *earn.category_multipliers_bp.values()]
    )
    campaign = max([10_000, *(c.multiplier_bp for c in earn.campaigns)])
    fen_per_yuan = earn.points_per_yuan * doc.point_value.fen_per_point
    return fen_per_yuan * multiplier * campaign // (100 * 10_000)


def max_referral_bp(doc: RuleDocument) -> int:
    """The most of one order its promoters can be owed: the direct share, the indirect one at
    depth 2, and the merchant's recruiter's (all three can fall on the same order)."""
    r = doc.referral
    return r.direct_bp + (r.indirect_bp if r.depth >= 2 else 0) + r.recruiter_bp


def lint_rules(doc: RuleDocument) -> list[Finding]:
    """A Jifen rule document cannot express most schemes (no cash-out, no price formula, no
    tokens: its schema has no such fields; a fee, headcount pay or a third referral level is
    refused when the document is loaded, see ``lint_text``). What it can still do wrong is promise
    a rebate of the whole purchase or more (消费全返, FUND-2). What it can do that needs the
    operator's eyes: pay a second referral level (PYR-3, team pay: lawful only without a fee or
    headcount pay, which Jifen has neither of), or let promoters take more than 30% of one order
    (PYR-7: above the ceiling even a licensed direct seller may earn on their own sales)."""
    findings = []
    rebate = max_rebate_bp(doc)
    if rebate >= FULL_REBATE_BP:
        findings.append(
            Finding("FUND-2", Severity.ERROR, "earn", f"up to {rebate / 100:g}% of the order back")
        )
    referral = doc.referral
    if referral.depth >= 2 and referral.indirect_bp:
        findings.append(
            Finding(
                "PYR-3", Severity.WARN, "referral.depth",
                f"2 levels: the referrer's referrer earns {referral.indirect_bp / 100:g}%",
            )
        )  # fmt: skip
    promoters = max_referral_bp(doc)
    if promoters > DIRECT_SALES_CAP_BP:
        findings.append(
            Finding(
                "PYR-7", Severity.WARN, "referral",
                f"promoters can take {promoters / 100:g}% of one order > 30%",
            )
        )  # fmt: skip
    return findings


# -- text in ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LintReport:
    kind: str  # "rules" or "scheme"
    name: str
    findings: list[Finding]

    @property
    def refused(self) -> bool:
        return refused(self.findings)


def lint_text(text: str) -> LintReport:
    """Lint YAML/JSON text: ``kind: scheme`` is a scheme description, anything else a rule
    document. Invalid input raises ``InvalidRules`` naming the first bad field."""
    data = parse_mapping(text, "文件 / file")
    if data.get("kind") == "scheme":
        try:
            scheme = SchemeDescription.model_validate(data)
        except ValidationError as exc:
            errors = validation_errors(exc)
            raise InvalidRules(
                f"方案描述无效 / invalid scheme: {errors[0]['path']}: {errors[0]['message']}",
                errors=errors,
            ) from exc
        return LintReport("scheme", scheme.name, lint_scheme(scheme))
    try:
        doc = load_document(text)
    except InvalidRules as exc:
        refusals = _refusals(exc)
        if not refusals:
            raise
        return LintReport("rules", _name(data), refusals)
    return LintReport("rules", doc.title_en or doc.alliance, lint_rules(doc))


def _refusals(exc: InvalidRules) -> list[Finding]:
    """The terms ``load_document`` refused for compliance (an entry fee, headcount pay, a
    territory, a third level) as error findings; empty unless every error is one, so that a
    document that is merely malformed is still reported as malformed."""
    errors = exc.context.get("errors") or []
    if not errors or not all(e.get("finding") in RULES for e in errors):
        return []
    return [Finding(e["finding"], Severity.ERROR, e["path"], e.get("term", "")) for e in errors]


def _name(data: dict[str, Any]) -> str:
    for key in ("title_en", "alliance"):
        if isinstance(data.get(key), str) and data[key]:
            return str(data[key])
    return "jifen"
