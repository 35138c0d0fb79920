"""Rule errors, each with a stable code the API and CLI both show.

The codes are the contract (``rules.notice_too_short``, ``redemption.below_minimum``); messages are
short, bilingual "中文 / English", and may change. ``context`` carries the limit that was broken
so a caller can explain it without parsing the message.
"""

from __future__ import annotations

from jifen.errors import JifenError


class RulesError(JifenError):
    """Base of every error raised by ``jifen.rules``."""

    code = "rules.error"
    status = 422


class InvalidRules(RulesError):
    """A rule document that does not parse or validate; ``context["errors"]`` lists each problem."""

    code = "rules.invalid"
    status = 422


class NoRulesInForce(RulesError):
    """No published version was effective at the moment asked about."""

    code = "rules.none_in_force"
    status = 409


class ReasonRequired(RulesError):
    """Publishing needs a reason the members can read (blank or over 500 characters refused)."""

    code = "rules.reason_required"
    status = 422


class NoticeTooShort(RulesError):
    """The change would take effect before the notice the rules promise (电子商务法 art 34)."""

    code = "rules.notice_too_short"
    status = 422


class EffectiveInPast(RulesError):
    """A version may not take effect before it is published."""

    code = "rules.effective_in_past"
    status = 422


class EffectiveTooFar(RulesError):
    """An effective date beyond the horizon: announced so far ahead, it would block every later
    change (they must take effect after it) for longer than anyone plans rules."""

    code = "rules.effective_too_far"
    status = 422


class EffectiveOrder(RulesError):
    """Versions take effect in publication order; an earlier effective_at would rewrite history."""

    code = "rules.effective_order"
    status = 409


class RightsReduced(RulesError):
    """The change would reduce the rights attached to points already issued (消保法 26; PTS-4)."""

    code = "rules.rights_reduced"
    status = 409


class Unchanged(RulesError):
    """The proposed document is identical to the latest published one: nothing to announce."""

    code = "rules.unchanged"
    status = 409


class NotWithdrawable(RulesError):
    """Only an announced version that has not taken effect may be withdrawn: a draft is simply
    left unpublished, and a version in force is changed by publishing the next one."""

    code = "rules.not_withdrawable"
    status = 409


class AlreadyWithdrawn(NotWithdrawable):
    """The version was withdrawn before; a withdrawal is final."""

    code = "rules.already_withdrawn"


class RedemptionRefused(RulesError):
    """A redemption the rules in force do not allow; subclasses say which limit."""

    code = "redemption.refused"
    status = 422


class BelowMinimum(RedemptionRefused):
    code = "redemption.below_minimum"


class OverOrderShare(RedemptionRefused):
    code = "redemption.over_order_share"


class CategoryExcluded(RedemptionRefused):
    code = "redemption.category_excluded"


class InvalidArgument(RulesError):
    """A caller broke a function's contract (naive datetime, negative amount): a bug upstream."""

    code = "rules.invalid_argument"
    status = 422


class RuleVersionNotFound(RulesError):
    code = "rules.version_not_found"
    status = 404


class AlreadyPublished(RulesError):
    code = "rules.already_published"
    status = 409


class LintFailed(RulesError):
    """Publishing refused: the compliance linter reports an error or a block."""

    code = "rules.lint_failed"
    status = 422
