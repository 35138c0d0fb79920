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
    """A checkpoint's signature does not hold: the document changed, the record is malformed,
    its key id is not its public key's, or its algorithm is not one Jifen signs with. Whoever
    holds such a checkpoint cannot tell what the operator signed."""

    code = "checkpoint.signature_invalid"
    status = 422


class SignatureUnchecked(JifenError):
    """An SM2 signature where ``tongsuopy`` is not installed: neither valid nor invalid, and
    never reported as either (``pip install 'jifen[sm2]'`` checks it)."""

    code = "checkpoint.signature_unchecked"
    status = 422


class SigningKeyInvalid(JifenError):
    """The operator's signing key file (``JIFEN_SIGNING_KEY``) cannot be used: unreadable, not
    an unencrypted PKCS#8 PEM of an Ed25519 or SM2 key, or (generating one) already there.
    A deployment fault, 500: no caller's request can mend it."""

    code = "checkpoint.signing_key_invalid"
    status = 500


class ExportTargetInUse(JifenError):
    """An export is written into an empty (or new) folder only: never over an older one."""

    code = "export.target_in_use"
    status = 409


class ExportRequestInvalid(JifenError):
    """The lanes to export are not the store's (an unknown lane, a height past its tip), or an
    extra file's name is not a plain file name of its own."""

    code = "export.request_invalid"
    status = 400
