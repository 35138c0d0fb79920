"""Errors of the money path: each a stable code (docs/payments.md lists them)."""

from __future__ import annotations

from jifen.errors import JifenError


class FundsError(JifenError):
    code = "funds.error"


class NotConfigured(FundsError):
    """The service runs without a payment provider (``jifen serve --provider``). 409, not 503:
    it is how this deployment is set up, not an outage that a retry outlasts."""

    code = "payment.not_configured"
    status = 409


class NoProviderAccount(FundsError):
    """The merchant has no account at the provider yet: the operator links one first."""

    code = "payment.no_provider_account"
    status = 409


class ReceiverNotRegistered(FundsError):
    """A split plan names a receiver the merchant has not registered with the provider."""

    code = "payment.receiver_not_registered"
    status = 422


class PaymentNotFound(FundsError):
    code = "payment.not_found"
    status = 404


class PaymentNotPaid(FundsError):
    code = "payment.not_paid"
    status = 409


class AmountMismatch(FundsError):
    """The provider says another amount was paid than the payment Jifen created: never applied."""

    code = "payment.amount_mismatch"
    status = 409


class RefundInProgress(FundsError):
    """One refund of a payment at a time: its returns and refund must finish before the next."""

    code = "payment.refund_in_progress"
    status = 409


class RefundTooLarge(FundsError):
    code = "payment.refund_too_large"
    status = 422


class PaidThroughProvider(FundsError):
    """An order paid through the provider is refunded through ``/v1/payments/…/refunds``, which
    returns the splits and pays the customer back; the cash-order refund would move no money."""

    code = "payment.refund_through_provider"
    status = 409


class CredentialsInvalid(FundsError):
    """The provider's credentials file cannot be read, or lacks a field, or names a key file
    that cannot be read: the server does not start half-configured."""

    code = "payment.credentials_invalid"
    status = 422
