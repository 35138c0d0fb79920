"""Errors of proofs of liabilities and checkpoints: each a stable code (docs/transparency.md)."""

from __future__ import annotations

from jifen.errors import JifenError


class SnapshotTotalsDiffer(JifenError):
    """A liability snapshot whose members' balances do not add up to the ledger's outstanding
    points (issued − redeemed − expired − clawed back), or to the lots' own count: it is refused,
    never signed, because a published total must be the ledger's. Something is wrong with the
    stored balances; ``jifen verify`` says what."""

    code = "checkpoint.totals_differ"
    status = 409


class CheckpointNotFound(JifenError):
    code = "checkpoint.not_found"
    status = 404


class CheckpointMalformed(JifenError):
    """A file given as a checkpoint or a proof that is not one (the reason says what)."""

    code = "checkpoint.malformed"
    status = 422


class ProofNotFound(JifenError):
    """No proof for this member in that checkpoint: the member had no points account when it
    was taken, or the checkpoint's tree is no longer kept (only the latest trees are)."""

    code = "proof.not_found"
    status = 404


class SignatureInvalid(JifenError):
    code = "checkpoint.signature_invalid"
    status = 422


class SignatureUnchecked(JifenError):
    code = "checkpoint.signature_unchecked"
    status = 422
