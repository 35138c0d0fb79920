"""The alliance: merchants, members, orders, redemptions and the rulebook around the ledger."""

from __future__ import annotations

from jifen.alliance._secrets import Secrets
from jifen.alliance.clock import Clock, SimulatedClock, SystemClock, business_date
from jifen.alliance.context import Context, Page
from jifen.alliance.rulebook import Rulebook
from jifen.ledger import Ledger
from jifen.store import normalize_url


def open_alliance(
    db: str | None = None,
    *,
    secret: str | None = None,
    clock: Clock | None = None,
    hash_alg: str | None = None,
) -> Context:
    """Open (and migrate) the store at ``db`` and everything that works on it."""
    ledger = Ledger.open(db, hash_alg=hash_alg)
    return Context(
        ledger=ledger,
        rulebook=Rulebook(ledger.engine),
        secrets=Secrets.load(db_url=normalize_url(db), secret=secret),
        clock=clock or SystemClock(),
    )


__all__ = [
    "Clock",
    "Context",
    "Page",
    "Rulebook",
    "Secrets",
    "SimulatedClock",
    "SystemClock",
    "business_date",
    "open_alliance",
]
