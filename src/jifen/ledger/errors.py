"""Ledger errors, each with a stable code (see docs/ledger.md for the full list)."""

from __future__ import annotations

from jifen.errors import JifenError


class LedgerError(JifenError):
    code = "ledger.error"


class InvalidAmount(LedgerError):
    code = "amount.invalid"


class AccountNotFound(LedgerError):
    code = "account.not_found"
    status = 404


class LotNotFound(LedgerError):
    code = "lot.not_found"
    status = 404


class EntryNotFound(LedgerError):
    code = "entry.not_found"
    status = 404


class UnbalancedEntry(LedgerError):
    code = "entry.unbalanced"


class InvalidEntry(LedgerError):
    code = "entry.invalid"


class NotReversible(LedgerError):
    code = "entry.not_reversible"
    status = 409


class InsufficientPoints(LedgerError):
    code = "points.insufficient"
    status = 409


class InsufficientFunds(LedgerError):
    """A money (CNY) account would go below zero."""

    code = "balance.insufficient"
    status = 409


class CapExceeded(LedgerError):
    """An entry would take a cap past its limit; ``used_points`` is the total counted under lock,
    so the caller can re-quote against it (a capped order earns what is left of the cap)."""

    code = "cap.exceeded"
    status = 409


class LotNotDue(LedgerError):
    code = "lot.not_due"
    status = 409


class LotState(LedgerError):
    """The lot is not in a state that allows the operation (e.g. releasing a voided lot)."""

    code = "lot.invalid_state"
    status = 409


class RefundExceedsOrder(LedgerError):
    code = "refund.exceeds_order"
    status = 409


class MalformedKey(LedgerError):
    code = "idempotency.malformed_key"


class IdempotencyConflict(LedgerError):
    """A key already used with another body. One concept wherever keys are: the ledger's (the
    business identity of an order, a refund, a code) and the API's ``Idempotency-Key``."""

    code = "idempotency.conflict"
    status = 409


class BatchTooLarge(LedgerError):
    code = "batch.too_large"
    status = 413


class UnsupportedHash(LedgerError):
    code = "chain.unsupported_hash"
