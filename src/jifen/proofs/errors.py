"""Errors of signed checkpoints: each a stable code (docs/transparency.md lists them)."""

from __future__ import annotations

from jifen.errors import JifenError


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
