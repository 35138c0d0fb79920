"""What every alliance flow works with: the store, the ledger, the rulebook, keys and a clock."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

from jifen.app._secrets import Secrets
from jifen.app.clock import Clock
from jifen.app.rulebook import Rulebook
from jifen.ledger import Ledger
from jifen.store import retryable, writer

MAX_ATTEMPTS = 8
"""How often a unit of work is run again after a deadlock, a serialization failure, a busy
SQLite or a racing insert of the same key (each attempt starts from nothing)."""
T = TypeVar("T")


@dataclass(frozen=True)
class Context:
    ledger: Ledger
    rulebook: Rulebook
    secrets: Secrets
    clock: Clock

    @property
    def engine(self) -> Engine:
        return self.ledger.engine

    @property
    def writer(self) -> Engine:
        return writer(self.ledger.engine)

    def atomic(self, conn: Connection | None, work: Callable[[Connection], T]) -> T:
        """Run ``work`` in the caller's transaction ``conn``, or in a new one of its own that is
        retried whole on a transient database error. Either all of its writes commit or none.

        A unit of work does every read on its own connection: it sees its own writes, and a
        request never holds one pooled connection while it waits for a second."""
        if conn is not None:
            return work(conn)
        for attempt in range(MAX_ATTEMPTS):
            try:
                with self.writer.begin() as tx:
                    return work(tx)
            except DBAPIError as exc:
                if not retryable(exc) or attempt == MAX_ATTEMPTS - 1:
                    raise
                time.sleep(random.uniform(0, 0.005 * (attempt + 1)))
        raise AssertionError("unreachable")  # pragma: no cover

    @contextmanager
    def reading(self, conn: Connection | None) -> Iterator[Connection]:
        """The caller's connection when inside a unit of work, else a fresh one."""
        if conn is not None:
            yield conn
        else:
            with self.engine.connect() as fresh:
                yield fresh
