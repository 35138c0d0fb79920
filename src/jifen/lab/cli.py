"""``jifen lab …``: the scheme lab's command group, in one place.

Each command is a plain function in its own private module (``_cli_appreciation``,
``_cli_nfg``), which knows nothing of this group; the group registers them here, so the imports
point one way only. ``jifen.cli`` adds :data:`lab_app` as ``jifen lab``.
"""

from __future__ import annotations

import typer

from jifen.lab._cli_appreciation import appreciation
from jifen.lab._cli_nfg import nfg

__all__ = ["lab_app"]

lab_app = typer.Typer(
    help="方案实验室 scheme lab: simulate schemes Jifen refuses to run, with exact arithmetic.",
    no_args_is_help=True,
)
lab_app.command("appreciation")(appreciation)
lab_app.command("nfg")(nfg)
