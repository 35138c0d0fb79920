"""The CLI's own refusals, each with a stable code (docs: ``demo.store_in_use`` and
``init.store_in_use`` in operations.md,
``verify.checkpoint_*`` in ledger.md, ``lint.unreadable`` in compliance.md). ``jifen.cli.main``
prints any ``JifenError`` as one line ``error[code]: message`` and exits 2."""

from __future__ import annotations

from jifen.errors import JifenError

__all__ = [
    "CheckpointInvalid",
    "CheckpointUnwritable",
    "DemoStoreInUse",
    "InitStoreInUse",
    "LintInputUnreadable",
    "ProviderRequired",
]


class DemoStoreInUse(JifenError):
    code = "demo.store_in_use"
    status = 409


class InitStoreInUse(JifenError):
    """``jifen init`` on a store that exists (or a secret file that does): it never touches one."""

    code = "init.store_in_use"
    status = 409


class LintInputUnreadable(JifenError):
    code = "lint.unreadable"


class ProviderRequired(JifenError):
    """A money-path command without the provider's credentials (docs/payments.md)."""

    code = "payment.provider_required"
    status = 422


class CheckpointInvalid(JifenError):
    """``jifen verify --resume FILE`` with a file that is not a readable verify checkpoint."""

    code = "verify.checkpoint_invalid"


class CheckpointUnwritable(JifenError):
    """``jifen verify --checkpoint FILE`` could not write the file after a clean run."""

    code = "verify.checkpoint_unwritable"
