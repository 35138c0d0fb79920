"""A faithful local stand-in for WeChat Pay API v3 split payments (分账), for tests and demos.

It stands alone: it imports nothing of Jifen but :mod:`jifen.errors`, and Jifen's adapters talk
to it only over its HTTP wire protocol, with the keys in ``DIR/credentials.json``. Start it with
``jifen sandbox-provider --port P --state DIR`` or, in-process::

    with SandboxServer(tmp_dir) as sandbox:
        sandbox.base_url            # http://127.0.0.1:<port>
        sandbox.engine.state        # everything it knows

docs/sandbox-provider.md is the guide: the wire paths, the control API under ``/sandbox``, the
fault switches, and what each rule of payments.md §7 does.
"""

from jifen.sandbox._clock import SandboxClock
from jifen.sandbox._crypto import (
    authorization,
    decrypt_resource,
    oaep_encrypt,
    verify_headers,
)
from jifen.sandbox._server import SandboxServer, create_app
from jifen.sandbox._world import MOVEMENT_SHAPES

__all__ = [
    "MOVEMENT_SHAPES",
    "SandboxClock",
    "SandboxServer",
    "authorization",
    "create_app",
    "decrypt_resource",
    "oaep_encrypt",
    "verify_headers",
]
