"""Errors of referral rewards and payouts: each a stable code (docs/referrals.md lists them)."""

from __future__ import annotations

from jifen.errors import JifenError


class ReferralError(JifenError):
    """The base every referral error derives from, to be caught, never raised itself."""

    code = "referral.error"


class PayeeInvalid(ReferralError):
    """A payee's registration breaks a rule of its shape: a real name, a 居民身份证号 whose check
    digit or birth date is wrong, an openid of the wrong form. ``field`` names which."""

    code = "referral.payee_invalid"
    status = 422


class PayeeConsentRequired(ReferralError):
    """Registering as a payee processes sensitive personal information (an ID number, a payment
    account: PIPL art 28–29, compliance.md PII-1); without the separate consent to the current
    consent text nothing is stored."""

    code = "referral.payee_consent_required"
    status = 422


class PayeeAccountUnsupported(ReferralError):
    """A bank card as the payout identity: the provider's 商家转账 pays a person's WeChat 零钱 by
    openid only, and the reserve's depository pays merchants, not persons (docs/referrals.md)."""

    code = "referral.payee_account_unsupported"
    status = 422


class PayeeNotFound(ReferralError):
    code = "referral.payee_not_found"
    status = 404


class TaxMethodInvalid(ReferralError):
    """Not one of the two withholding methods (``per_payment``, ``cumulative``)."""

    code = "referral.tax_method_invalid"


class PromoterNotFound(ReferralError):
    """The promoter named (a member id, or a promoter code) is no member, or an erased one."""

    code = "referral.promoter_not_found"
    status = 404


class AlreadyBound(ReferralError):
    """The member (or merchant) has a referrer (recruiter) already: bound once; only the
    operator changes it, with a reason."""

    code = "referral.already_bound"
    status = 409


class ReferralCycle(ReferralError):
    """Self-referral, or a promoter whose own chain of referrers reaches the member."""

    code = "referral.cycle"
    status = 422
