"""Errors of the consoles, each with a stable code (listed in docs/consoles.md)."""

from __future__ import annotations

from jifen.errors import JifenError


class SignInRequired(JifenError):
    """No live session for a page that needs one: the browser is sent to the sign-in page."""

    code = "web.signin_required"
    status = 401


class CsrfRefused(JifenError):
    """A form posted without this browser's CSRF token (or from another site): nothing done."""

    code = "web.csrf_refused"
    status = 403


class SignInRefused(JifenError):
    """The key (or code) offered at a sign-in form was not accepted."""

    code = "web.signin_refused"
    status = 401
