"""The alliance: merchants, members, orders, redemptions and the rulebook around the ledger."""

from __future__ import annotations

from datetime import datetime

from jifen.app import _settings
from jifen.app._secrets import Secrets, secret_file
from jifen.app.clock import Clock, SimulatedClock, SystemClock, business_date, last_valid_day
from jifen.app.context import Context
from jifen.app.errors import ClockMismatch, SecretMismatch
from jifen.app.group import GroupCommit, GroupCommitted, GroupSettings
from jifen.app.paging import Page
from jifen.app.rulebook import Rulebook
from jifen.ledger import Ledger
from jifen.store import normalize_url


def open_alliance(
    db: str | None = None,
    *,
    secret: str | None = None,
    clock: Clock | None = None,
    hash_alg: str | None = None,
) -> Context:
    """Open (and migrate) the store at ``db`` and everything that works on it.

    The store must recognise ``secret`` (``secret.mismatch`` otherwise) and runs on its own
    clock: without ``clock``, a simulated store's simulated clock (resumed at its stored time) or
    the real one; a ``SimulatedClock`` marks a fresh store simulated (``clock.mismatch`` on a
    store that ran on real time). See ``jifen.app._settings``."""
    ledger = Ledger.open(db, hash_alg=hash_alg)
    try:
        url = normalize_url(db)
        secrets = Secrets.load(
            db_url=url, secret=secret, create=not _settings.has_secret(ledger.engine)
        )
        _settings.recognise_secret(ledger.engine, secrets)
        return Context(
            ledger=ledger,
            rulebook=Rulebook(ledger.engine),
            secrets=secrets,
            clock=_settings.store_clock(ledger, clock),
        )
    except BaseException:
        ledger.engine.dispose()
        raise


def hand_over_to_real_clock(ctx: Context, real_now: datetime) -> datetime:
    """Hand the simulated store of ``ctx`` over to the real clock for good (see
    ``jifen.app._settings``); ``ctx`` must not write afterwards: open the store again, and it runs
    on the real clock. Returns the simulated time it was handed over at."""
    return _settings.hand_over_to_real_clock(ctx.engine, real_now)


def mark_real_clock(ctx: Context) -> None:
    """A fresh store runs on the real clock from now on, before it has any entry (``jifen
    init``); ``clock.mismatch`` if a simulated clock holds it already."""
    if _settings.mark_real_clock(ctx.engine) != _settings.REAL:
        raise ClockMismatch("此账本使用模拟时钟 / this store runs on a simulated clock")


def secret_recognised(ctx: Context) -> bool:
    """Whether the store still recognises the secret ``ctx`` holds (for ``/readyz``): False if
    its recorded check value is another secret's or has gone. Reads the store (one row)."""
    return _settings.secret_recognised(ctx.engine, ctx.secrets)


__all__ = [
    "Clock",
    "ClockMismatch",
    "Context",
    "GroupCommit",
    "GroupCommitted",
    "GroupSettings",
    "Page",
    "Rulebook",
    "SecretMismatch",
    "Secrets",
    "SimulatedClock",
    "SystemClock",
    "business_date",
    "hand_over_to_real_clock",
    "last_valid_day",
    "mark_real_clock",
    "open_alliance",
    "secret_file",
    "secret_recognised",
]
