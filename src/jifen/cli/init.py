"""``jifen init``: create a production store and its secret, and say how to serve it.

A production store starts empty, on the real clock, with a secret of its own: the one master
secret from which the keys sealing members' phone numbers, member tokens and redemption codes
are derived (``jifen.app._secrets``). For a SQLite store it is a file beside the store
(``jifen.db.secret``, mode 600), which ``jifen serve`` reads by itself; for PostgreSQL it is
written to ``--secret-file`` and ``jifen serve`` must be given it as ``JIFEN_SECRET``. A store
that exists already is refused (``init.store_in_use``): ``init`` never touches one.
"""

from __future__ import annotations

import os
import secrets as pysecrets
from pathlib import Path
from typing import Annotated

import typer

from jifen.cli._options import DbOption
from jifen.cli._output import err, out, say
from jifen.cli._stores import ensure_database, store_in_use
from jifen.cli.errors import InitStoreInUse
from jifen.store import normalize_url, sqlite_path

__all__ = ["init"]

SECRET_BYTES = 32


def init(
    db: DbOption = None,
    secret_file: Annotated[
        Path | None,
        typer.Option(
            help="PostgreSQL: where to write the new secret [default ./jifen-DATABASE.secret]; "
            "SQLite keeps it beside the store",
        ),
    ] = None,
) -> None:
    """Create a production store 创建生产账本: the database (PostgreSQL, if the server lets
    you), its tables, and its secret 密钥 (or the one in JIFEN_SECRET)."""
    from sqlalchemy.engine import make_url

    from jifen.app import mark_real_clock, open_alliance

    url = normalize_url(db)
    created = ensure_database(url)
    if used := store_in_use(url):
        raise InitStoreInUse(f"{used}; `jifen init` creates new stores only (账本已存在)")
    given = os.environ.get("JIFEN_SECRET")
    path = sqlite_path(url)
    written: Path | None = None
    if given is None and path is None:  # a server store: the new secret goes to a file
        name = make_url(url).database or "jifen"
        written = secret_file or Path(f"jifen-{name}.secret")
        _write_new_secret(written)
    secret = given or (written.read_text().strip() if written else None)
    ctx = open_alliance(url, secret=secret)  # SQLite without JIFEN_SECRET: creates .secret
    mark_real_clock(ctx)
    shown = ctx.engine.url.render_as_string(hide_password=True)
    ctx.engine.dispose()
    say(out, ("账本 store", "bold"), f": {shown}" + (" (database created)" if created else ""))
    where = (
        "JIFEN_SECRET (given; keep it where you keep the server's other secrets)"
        if given
        else f"{written} (mode 600)"
        if written
        else f"{path}.secret (mode 600, beside the store; `jifen serve` reads it)"
    )
    say(out, ("密钥 secret", "bold"), f": {where}")
    say(
        out,
        ("备份 back it up", "bold"),
        ": without this secret nobody can read the members' phone numbers or check their "
        "codes; a store refuses to start with any other one",
    )
    if written:
        serve = f"JIFEN_SECRET=\"$(cat {written})\" jifen serve --db '{_plain_url(url)}'"
    elif given:
        serve = f"jifen serve --db '{_plain_url(url)}'  # with JIFEN_SECRET set as now"
    else:
        serve = f"jifen serve --db {path}"
    say(out, ("启动 start", "bold"), f": {serve}")
    say(err, "创建完成 created: an empty store on the real clock")


def _write_new_secret(path: Path) -> None:
    """A fresh random secret, readable by its owner only; never over an existing file."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise InitStoreInUse(
            f"{path} exists already: choose another --secret-file, or set JIFEN_SECRET to the "
            "secret it holds (密钥文件已存在)"
        ) from None
    with os.fdopen(fd, "w") as f:
        f.write(pysecrets.token_urlsafe(SECRET_BYTES) + "\n")


def _plain_url(url: str) -> str:
    """The URL as the operator typed it (``postgresql://``), password hidden."""
    from sqlalchemy.engine import make_url

    shown = make_url(url).render_as_string(hide_password=True)
    return shown.replace("postgresql+psycopg://", "postgresql://", 1)
