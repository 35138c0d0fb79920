"""Every error code the HTTP API can answer with, and its status: the one list ``docs/api.md``
documents (a test keeps the two equal). A refusal whose code is not here is a bug, not a new
code: ``problems`` answers it as ``internal`` and logs it, so an integrator never meets a code
the documentation does not name."""

from __future__ import annotations

from collections.abc import Mapping

API_ERRORS: Mapping[str, int] = {
    # the request itself
    "request.invalid": 422,
    "request.too_large": 413,
    "not_found": 404,
    "method_not_allowed": 405,
    # who is calling
    "auth.required": 401,
    "auth.rate_limited": 429,
    "auth.invalid_token": 401,
    "auth.forbidden": 403,
    # idempotency
    "idempotency.key_required": 400,
    "idempotency.conflict": 409,
    # rules
    "rules.none_in_force": 409,
    "rules.reason_required": 422,
    "rules.effective_in_past": 422,
    "rules.effective_too_far": 422,
    "rules.notice_too_short": 422,
    "rules.effective_order": 409,
    "rules.unchanged": 409,
    "rules.rights_reduced": 409,
    "rules.already_published": 409,
    "rules.not_withdrawable": 409,
    "rules.already_withdrawn": 409,
    "rules.version_not_found": 404,
    "rules.lint_failed": 422,
    # merchants, members, orders, redemptions
    "merchant.exists": 409,
    "merchant.not_found": 404,
    "merchant.inactive": 403,
    "member.not_found": 404,
    "member.consent_required": 422,
    "order.not_found": 404,
    "order.paid_in_future": 422,
    "order.paid_too_long_ago": 422,
    "order.not_cancellable": 409,
    "lot.invalid_state": 409,
    "refund.exceeds_order": 409,
    "redemption.code_invalid": 403,
    "redemption.code_used": 409,
    "redemption.category_excluded": 422,
    "redemption.below_minimum": 422,
    "redemption.over_order_share": 422,
    "points.insufficient": 409,
    # operator tools and the auditor (docs/operator-tools.md, docs/auditor.md)
    "key.not_found": 404,
    "merchant.store_not_found": 404,
    "key.revoked": 409,
    "redemption.not_found": 404,
    "redemption.not_voidable": 409,
    "redemption.already_reversed": 409,
    "redemption.not_reversible": 409,
    "import.rows_invalid": 422,
    "verification.not_found": 404,
    # referral payouts (docs/referrals.md)
    "referral.payee_invalid": 422,
    "referral.payee_consent_required": 422,
    "referral.payee_account_unsupported": 422,
    "referral.payee_not_found": 404,
    # the money path (docs/payments.md)
    "payment.not_configured": 409,
    "payment.not_found": 404,
    "payment.not_paid": 409,
    "payment.no_provider_account": 409,
    "payment.receiver_not_registered": 422,
    "payment.amount_mismatch": 409,
    "payment.refund_in_progress": 409,
    "payment.refund_too_large": 422,
    "payment.refund_through_provider": 409,
    "payment.provider_refused": 502,
    "payment.provider_unavailable": 503,
    "payment.notification_refused": 401,
    "payment.not_offered": 422,
    "payment.merchant_not_authorized": 422,
    # webhooks (docs/webhooks.md)
    "webhook.subscription_not_found": 404,
    "webhook.delivery_not_found": 404,
    "webhook.subscription_limit": 409,
    "webhook.event_not_allowed": 422,
    # referrals (docs/referrals.md)
    "referral.promoter_not_found": 404,
    "referral.already_bound": 409,
    "referral.cycle": 422,
    # proof of liabilities (docs/transparency.md)
    "checkpoint.not_found": 404,
    "proof.not_found": 404,
    "checkpoint.totals_differ": 409,
    # jobs and the service
    "jobs.until_in_future": 422,
    "store.unavailable": 503,
    "store.not_ready": 503,
    "internal": 500,
}

START_UP_ERRORS = frozenset(
    {"secret.mismatch", "secret.missing", "clock.mismatch", "payment.credentials_invalid"}
)
"""Refusals of ``jifen serve`` before it answers anything (one line, exit 2), never a response."""
