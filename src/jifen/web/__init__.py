"""The consoles (控制台): server-rendered pages for the public, members, merchants, operators
and auditors, on the same app as the HTTP API (docs/consoles.md).

An entry point beside ``jifen.api``: pages translate a browser's request into the same service
calls the API makes, and render the answer with Jinja2 in the reader's language. Sign-in is an
API key (or a member's SMS code) exchanged for a session cookie; every form carries a CSRF
token.
"""

from __future__ import annotations

from jifen.web.site import WebSettings, cookies_secure_for, create_site

__all__ = ["WebSettings", "cookies_secure_for", "create_site"]
