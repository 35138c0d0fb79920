"""One TLS context for every test HTTP client.

The servers the tests talk to (Jifen's API, the sandbox provider, a webhook receiver) are plain
HTTP on 127.0.0.1, so a client's TLS context is never used; but ``httpx.Client()`` builds a new
one each time, loading the whole CA bundle (about 30 ms of CPU), and the tests open thousands of
clients (one per merchant, member or operator call). Clients given ``verify=LOOPBACK_TLS`` share
this one, built once: nothing a test sends or checks changes.
"""

from __future__ import annotations

import ssl

LOOPBACK_TLS = ssl.create_default_context()
