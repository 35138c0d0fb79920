"""Errors of the audit export, each with a stable code (docs/audit-export.md lists them)."""

from __future__ import annotations

from jifen.errors import JifenError


class ExportTargetInUse(JifenError):
    """An export is written into an empty (or new) folder only: never over an older one."""

    code = "export.target_in_use"
    status = 409


class ExportRequestInvalid(JifenError):
    """The lanes to export are not the store's (an unknown lane, a height past its tip), or an
    extra file's name is not a plain file name of its own."""

    code = "export.request_invalid"
    status = 400
