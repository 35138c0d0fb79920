"""``jifen lab …``: the scheme lab's commands. Each scheme's command lives beside its simulator
(``cli_appreciation.py``, ``cli_nfg.py``) and registers itself on ``lab_app``."""

from __future__ import annotations

import typer

lab_app = typer.Typer(
    help="方案实验室 scheme lab: simulate schemes Jifen refuses to run, with exact arithmetic.",
    no_args_is_help=True,
)

from jifen.compliance.lab import cli_appreciation, cli_nfg  # noqa: E402, F401  (they register)
