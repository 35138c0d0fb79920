"""What a store knows about itself (the ``settings`` table): its clock and its secret.

**One clock per store.** A store runs on the real clock or on a simulated one, for life: the
first process that drives a fresh store with a simulated clock marks it ``simulated`` and every
move of that clock is written here (``clock.now``), so any process that opens the store later
(``jifen jobs run`` beside ``jifen serve --simulated-clock``) resumes at the same time instead of
closing every simulated day at once with the real clock. A store that has journal entries and no
mark ran on the real clock; it is marked ``real`` and a simulated clock is refused on it, because
its entries would go back in time.

**Simulated, then real, once.** A simulated store whose time has caught up with real time may be
handed over to the real clock (``hand_over_to_real_clock``; ``jifen demo`` does, since its last
simulated day is today): from then on it is a ``real`` store like any other, for life. Never the
other way, and never while its time is ahead of real time, so its entries stay in order; the day
fence is untouched by the hand-over, so a closed day stays closed.

**One secret per store.** The first open with a secret records the secret's check value; an open
with another secret is refused (``secret.mismatch``) before anything is read or written.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime

from sqlalchemy import Connection, Engine, select, update
from sqlalchemy.exc import SQLAlchemyError

from jifen.app._secrets import Secrets
from jifen.app.clock import Clock, SimulatedClock, SystemClock
from jifen.app.errors import ClockMismatch, SecretMismatch
from jifen.ledger import BatchCommitted, Ledger, queries
from jifen.ledger.chain import utc_text
from jifen.store import insert_missing, writer
from jifen.store import tables as t

CLOCK = "clock"  # "real" or "simulated"
CLOCK_NOW = "clock.now"  # a simulated store's time, UTC text (fixed width: text order = time order)
CLOCK_REAL_FROM = "clock.real_from"  # a handed-over store: the simulated time it was handed at
SECRET_CHECK = "secret.check"
REAL, SIMULATED = "real", "simulated"

log = logging.getLogger("jifen.store")


def _get(conn: Connection, name: str) -> str | None:
    value: str | None = conn.execute(
        select(t.settings.c.value).where(t.settings.c.name == name)
    ).scalar_one_or_none()
    return value


def _put_missing(conn: Connection, name: str, value: str) -> str:
    """Record ``name`` unless it is recorded already; the value that holds (a racing process may
    have recorded its own first)."""
    insert_missing(conn, t.settings, [{"name": name, "value": value}])
    held = _get(conn, name)
    assert held is not None
    return held


def _has_entries(conn: Connection) -> bool:
    return queries.has_entries(conn)


# -- the secret ------------------------------------------------------------------------------------


def recognise_secret(engine: Engine, secrets: Secrets) -> None:
    """Refuse a secret this store does not know; record it if the store knows none yet.

    A store sealed before check values existed is only given one if the secret opens a member's
    phone: a wrong secret must never become the recorded one."""
    with writer(engine).begin() as conn:
        stored = _get(conn, SECRET_CHECK)
        if stored is None:
            sealed = conn.execute(
                select(t.members.c.phone_sealed).where(t.members.c.erased_at.is_(None)).limit(1)
            ).scalar_one_or_none()
            if sealed is not None and not secrets.opens(sealed):
                raise SecretMismatch()
            stored = _put_missing(conn, SECRET_CHECK, secrets.check_value())
    if not secrets.recognises(stored):
        raise SecretMismatch()


def has_secret(engine: Engine) -> bool:
    """Whether this store has recorded its secret's check value (or seals a member's phone)."""
    with engine.connect() as conn:
        if _get(conn, SECRET_CHECK) is not None:
            return True
        return conn.execute(select(t.members.c.member_id).limit(1)).first() is not None


def secret_recognised(engine: Engine, secrets: Secrets) -> bool:
    """Whether the store's recorded check value is this secret's (for a readiness probe)."""
    with engine.connect() as conn:
        stored = _get(conn, SECRET_CHECK)
    return stored is not None and secrets.recognises(stored)


# -- the clock -------------------------------------------------------------------------------------


def store_clock(ledger: Ledger, wanted: Clock | None) -> Clock:
    """The clock this store runs on. ``wanted`` None: the store's own (its simulated clock, or
    the real one). A ``SimulatedClock``: bound to the store (marking a fresh store simulated;
    resumed at the store's time if that is later). Any other clock: the real one, refused on a
    simulated store."""
    engine = ledger.engine
    with writer(engine).begin() as conn:
        kind = _get(conn, CLOCK)
        if kind is None and _has_entries(conn):
            kind = _put_missing(conn, CLOCK, REAL)  # entries written without a mark: real time
        if isinstance(wanted, SimulatedClock) and kind is None:
            kind = _put_missing(conn, CLOCK, SIMULATED)  # a racing process may have won
            if kind == SIMULATED:
                _put_missing(conn, CLOCK_NOW, utc_text(wanted.now()))
        stored_now = _get(conn, CLOCK_NOW)
    if isinstance(wanted, SimulatedClock) and kind != SIMULATED:
        raise ClockMismatch(
            "此账本一直使用真实时钟，不能改用模拟时钟 / this store runs on the real clock "
            "(it has journal entries): a simulated clock would book entries in its past"
        )
    if kind != SIMULATED:
        if kind is None:
            ledger.observers.append(_RealOnFirstEntry(engine))
        return wanted or SystemClock()
    if wanted is not None and not isinstance(wanted, SimulatedClock):
        raise ClockMismatch(
            "此账本使用模拟时钟，不能改用真实时钟 / this store runs on a simulated clock: open it "
            "without a clock to use the store's own"
        )
    assert stored_now is not None
    clock = wanted or SimulatedClock(datetime.fromisoformat(stored_now))
    clock.set(datetime.fromisoformat(stored_now))  # never behind the store's time
    clock.bind(_Persist(engine))
    return clock


def mark_real_clock(engine: Engine) -> str:
    """Mark a fresh store ``real`` now, not at its first entry (``jifen init``: a production
    store never takes a simulated clock); returns the mark that holds."""
    with writer(engine).begin() as conn:
        return _put_missing(conn, CLOCK, REAL)


def hand_over_to_real_clock(engine: Engine, real_now: datetime) -> datetime:
    """Turn a simulated store into a real-clock one, for good; returns the simulated time it was
    handed over at (kept as ``clock.real_from``). Refused (``clock.mismatch``) on a store that
    is not simulated, or whose time is still ahead of ``real_now``: entries must never go back in
    time. A process still holding the store's simulated clock must not write after this."""
    with writer(engine).begin() as conn:
        kind, stored_now = _get(conn, CLOCK), _get(conn, CLOCK_NOW)
        if kind != SIMULATED or stored_now is None:
            raise ClockMismatch(
                "只有模拟时钟的账本可以交给真实时钟 / only a store on a simulated clock can be "
                "handed over to the real clock"
            )
        if stored_now > utc_text(real_now):
            raise ClockMismatch(
                f"此账本的模拟时间 {stored_now} 晚于真实时间 / this store's simulated time "
                f"{stored_now} is ahead of real time: it cannot be handed over yet"
            )
        conn.execute(update(t.settings).where(t.settings.c.name == CLOCK).values(value=REAL))
        insert_missing(conn, t.settings, [{"name": CLOCK_REAL_FROM, "value": stored_now}])
    return datetime.fromisoformat(stored_now)


class _Persist:
    """Records each move of a simulated clock; the stored time only ever moves forward, whatever
    order racing processes write in."""

    def __init__(self, engine: Engine) -> None:
        self._writer = writer(engine)

    def __call__(self, now: datetime) -> None:
        text = utc_text(now)
        with self._writer.begin() as conn:
            conn.execute(
                update(t.settings)
                .where(t.settings.c.name == CLOCK_NOW, t.settings.c.value < text)
                .values(value=text)
            )


class _RealOnFirstEntry:
    """A fresh store opened on the real clock is marked ``real`` when its first entries are
    written (until then a simulated clock may still claim it). Once per process; never raises.

    A batch applied inside a caller's transaction (a request's unit of work, a group commit)
    is marked from a thread of its own: on SQLite a second writer opened by the thread that holds
    the write lock would wait for itself until its busy timeout."""

    def __init__(self, engine: Engine) -> None:
        self._writer = writer(engine)
        self._done = False

    def __call__(self, event: BatchCommitted) -> None:
        if self._done or not event.entries:
            return
        self._done = True
        if event.joined:
            threading.Thread(target=self._mark, name="jifen-mark-real", daemon=True).start()
        else:
            self._mark()

    def _mark(self) -> None:
        try:
            with self._writer.begin() as conn:
                if _put_missing(conn, CLOCK, REAL) != REAL:
                    log.error("a simulated clock claimed this store while it ran on real time")
        except SQLAlchemyError:  # the next open records it from the entries
            log.warning("could not record that this store runs on the real clock", exc_info=True)
