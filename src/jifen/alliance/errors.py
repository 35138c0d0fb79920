"""Alliance errors: each a stable code the API and CLI show (see docs/api.md)."""

from __future__ import annotations

from jifen.errors import JifenError


class AllianceError(JifenError):
    code = "alliance.error"


class MerchantNotFound(AllianceError):
    code = "merchant.not_found"
    status = 404


class MerchantExists(AllianceError):
    code = "merchant.exists"
    status = 409


class MerchantInactive(AllianceError):
    code = "merchant.inactive"
    status = 403


class ConsentRequired(AllianceError):
    """Terms and privacy consent are required to enrol (PIPL art 13, 17)."""

    code = "member.consent_required"
    status = 422


class MemberNotFound(AllianceError):
    code = "member.not_found"
    status = 404


class OrderNotFound(AllianceError):
    code = "order.not_found"
    status = 404


class OrderNotCancellable(AllianceError):
    code = "order.not_cancellable"
    status = 409


class PaidInFuture(AllianceError):
    code = "order.paid_in_future"
    status = 422


class PaidTooLongAgo(AllianceError):
    code = "order.paid_too_long_ago"
    status = 422


class CodeInvalid(AllianceError):
    code = "redemption.code_invalid"
    status = 403


class CodeUsed(AllianceError):
    code = "redemption.code_used"
    status = 409


class KeyNotFound(AllianceError):
    """No such API key (or not the caller's: the answer is the same)."""

    code = "key.not_found"
    status = 404


class KeyRevoked(AllianceError):
    """A revoked key (or one past its rotation's grace) cannot be rotated: create a new one."""

    code = "key.revoked"
    status = 409


class RedemptionNotFound(AllianceError):
    code = "redemption.not_found"
    status = 404


class NotVoidable(AllianceError):
    """Only a redemption of the current business day is voided; an earlier one is reversed."""

    code = "redemption.not_voidable"
    status = 409


class RedemptionAlreadyReversed(AllianceError):
    code = "redemption.already_reversed"
    status = 409


class RedemptionNotReversible(AllianceError):
    """The ledger refuses the correction (a lot the points came from has expired since, or a
    refund of the order already settled them)."""

    code = "redemption.not_reversible"
    status = 409


class ImportRefused(AllianceError):
    """An import file with errors: nothing was written; ``errors`` lists every row's problems."""

    code = "import.rows_invalid"
    status = 422


class StoreNotFound(AllianceError):
    """A key for a store the merchant does not have."""

    code = "merchant.store_not_found"
    status = 404


class SignInCodeInvalid(AllianceError):
    """The SMS code offered is wrong, used, expired, or was never sent to that number (one
    answer for all, so a refusal says nothing about whether the number is enrolled)."""

    code = "signin.code_invalid"
    status = 401


class SignInCodeLocked(AllianceError):
    """Too many wrong codes against the latest one sent to that number: ask for a new one."""

    code = "signin.code_locked"
    status = 401


class SignInRateLimited(AllianceError):
    """Codes are asked for too often, for that number or from that address."""

    code = "signin.rate_limited"
    status = 429


class MemberErased(AllianceError):
    """The member's personal data was erased at their request: the account is closed."""

    code = "member.erased"
    status = 410


class PointsOutstanding(AllianceError):
    """Erasure refused until the member confirms giving up the points still in the account."""

    code = "member.points_outstanding"
    status = 409


class PointsPending(AllianceError):
    """Erasure refused while points are pending: a refund inside the return window may still
    move them, so the account waits until the last release date."""

    code = "member.points_pending"
    status = 409


class ErasureNotConfirmed(AllianceError):
    """An erasure request without the member's explicit confirmation: nothing done."""

    code = "member.erasure_unconfirmed"
    status = 422
