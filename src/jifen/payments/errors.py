"""Payment errors, each with a stable code (docs/payments.md lists them)."""

from __future__ import annotations

from jifen.errors import JifenError


class PaymentError(JifenError):
    code = "payment.error"


class PlanOverRatio(PaymentError):
    """A split plan would give others more of an order than the provider allows."""

    code = "payment.plan_over_ratio"
    status = 422


class PlanTooManyReceivers(PaymentError):
    code = "payment.plan_too_many_receivers"
    status = 422


class ProviderRefused(PaymentError):
    """The provider answered no (its own ``provider_code``, e.g. INVALID_REQUEST, NOT_ENOUGH)."""

    code = "payment.provider_refused"
    status = 502


class ProviderUnavailable(PaymentError):
    """The provider did not answer (down, timed out, 5xx): the instruction is retried later."""

    code = "payment.provider_unavailable"
    status = 503


class NotificationRefused(PaymentError):
    """A callback that does not verify (signature, timestamp, decryption): never applied."""

    code = "payment.notification_refused"
    status = 401


class BillMalformed(PaymentError):
    """A provider's bill that cannot be trusted (a header, a row, an amount, or a summary that is
    not the sum of its rows): reconciling against it would invent breaks, so it is refused whole.
    ``line`` names the file's line."""

    code = "payment.bill_malformed"
    status = 502


class NotOffered(PaymentError):
    """The provider has no such operation (Alipay: no split return apart from a refund, no split
    bill): the caller takes the provider's own way instead, which the message names."""

    code = "payment.not_offered"
    status = 422


class MerchantNotAuthorized(PaymentError):
    """No authorization to act for this merchant at the provider (Alipay: no app_auth_token for
    it in the credentials): nothing is sent, so no money can land in the operator's account."""

    code = "payment.merchant_not_authorized"
    status = 422
