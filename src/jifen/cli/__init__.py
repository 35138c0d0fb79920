"""The ``jifen`` command line. A thin shell: parse, call a service, print, exit.

Every refusal is one readable line ``error[code]: message`` on standard error and a non-zero
exit (2 for a refused request, 1 for a failed verification); never a stack trace.

Each command group is a plain function (or, for ``jobs``, a group) in a module of its own
(:mod:`~jifen.cli.demo`, :mod:`~jifen.cli.verify`, :mod:`~jifen.cli.lint`, :mod:`~jifen.cli.jobs`,
:mod:`~jifen.cli.serve`; ``lab`` is :mod:`jifen.lab.cli`), which knows nothing of this app; they
are registered here, in the order ``jifen --help`` lists them. Everything printed goes through
:mod:`jifen.cli._output`, which keeps stored data from restyling, hiding or forging a line.
"""

from __future__ import annotations

import sys
from importlib.metadata import version
from typing import Annotated

import click
import typer

from jifen.cli import (
    audit,
    demo,
    funds,
    init,
    jobs,
    keys,
    lint,
    referral,
    serve,
    tax,
    tools,
    verify,
    webhooks,
)
from jifen.cli._help import tidy
from jifen.cli._output import plain
from jifen.errors import JifenError

__all__ = ["app", "command", "main"]

app = typer.Typer(
    help="Jifen 积分: a coalition loyalty ledger, exact and tamper-evident.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version(shown: bool) -> None:
    if shown:
        print(f"jifen {version('jifen')}")
        raise typer.Exit()


@app.callback()
def _root(
    _version_shown: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="print the version and exit"
        ),
    ] = False,
) -> None:
    """Jifen 积分: a coalition loyalty ledger, exact and tamper-evident."""


app.command("init")(init.init)
app.command("demo")(demo.demo)
app.command("verify")(verify.verify)
app.command("lint")(lint.lint)


def _lab_app() -> typer.Typer:
    from jifen.lab.cli import lab_app

    return lab_app


app.add_typer(_lab_app(), name="lab")
app.add_typer(jobs.jobs_app, name="jobs")
app.command("serve")(serve.serve)
app.command("reconcile")(funds.reconcile)
app.add_typer(funds.funds_app, name="funds")
app.add_typer(tools.import_app, name="import")
app.add_typer(tools.export_app, name="export")
app.add_typer(tools.members_app, name="members")
app.add_typer(keys.keys_app, name="keys")
app.add_typer(keys.auditor_app, name="auditor")
app.add_typer(webhooks.webhooks_app, name="webhooks")
app.add_typer(tax.tax_app, name="tax")
app.add_typer(referral.referral_app, name="referral")
app.add_typer(audit.audit_app, name="audit")


def _sandbox_provider() -> None:
    from jifen.sandbox.cli import sandbox_provider

    app.command("sandbox-provider")(sandbox_provider)


_sandbox_provider()


def command() -> click.Command:
    """The ``jifen`` command tree as click runs it, its help tidied (``jifen.cli._help``)."""
    tree: click.Command = tidy(typer.main.get_command(app))
    return tree


def main() -> None:
    """Console entry point: turns refusals into one line and an exit code."""
    try:
        command()(prog_name="jifen")
    except JifenError as exc:
        print(f"error[{exc.code}]: {plain(exc.message)}", file=sys.stderr)
        sys.exit(2)
