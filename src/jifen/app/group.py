"""Group commit: the units of work that arrive together share one transaction and one block.

A till sends one ``POST /v1/orders`` per sale. Run alone, each pays a whole transaction: BEGIN,
a lane, a block, COMMIT and its WAL flush. Here the requests of a short window (at most
``window_s`` after the first, at most ``max_works`` of them) are run one after another on one
connection, each inside its own SAVEPOINT, their ledger batches written into one block
(``Ledger.one_block``), and committed once. Then every request gets its own answer:

- a unit of work that raises (a refusal, a bug) is rolled back to its savepoint, alone: its
  neighbours commit, and it gets its own error;
- one that meets a transient database error (a deadlock with another group, a racing insert of
  the same key by another process) is rolled back to its savepoint and run again in the next
  group, after this one commits and releases its locks — at most ``MAX_ATTEMPTS`` times;
- nobody is answered before the commit, so a crash loses only unanswered work, whole: what was
  answered is durable, what was not is not there;
- if the commit itself fails, the whole group runs again from nothing (each unit of work starts
  from nothing, as ``Context.atomic`` retries do).

Idempotency keys keep their meaning: two requests with one key in one group see each other (the
second finds the first's claim, in the same transaction); across groups and processes the
store's unique keys decide, as they do without grouping.

Light traffic waits at most ``window_s`` more than it would alone; under load a group fills
while the previous one runs, so the window rarely matters.
"""

from __future__ import annotations

import queue
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

from jifen.app.context import MAX_ATTEMPTS, Context
from jifen.store import retryable

T = TypeVar("T")


@dataclass(frozen=True)
class GroupSettings:
    """How long a group waits for company after its first unit of work, how big it gets, and
    how many groups may run at once (each on its own connection and lane: while one waits on the
    database, the next is being run; so a process is not held to one group's round trips)."""

    window_s: float = 0.002
    max_works: int = 64
    committers: int = 4

    def __post_init__(self) -> None:
        if not 0 <= self.window_s <= 1:
            raise ValueError("the group window must be between 0 and 1 second")
        if not 1 <= self.max_works <= 1000:
            raise ValueError("a group holds 1 to 1000 units of work")
        if not 1 <= self.committers <= 32:
            raise ValueError("1 to 32 groups may run at once")


@dataclass(eq=False)
class _Work:
    run: Callable[[Connection], Any]
    future: Future[Any] = field(default_factory=Future)
    attempts: int = 0


@dataclass(frozen=True)
class GroupCommitted:
    """What an observer learns of each group (metrics): its size and how it ended."""

    works: int
    committed: int  # answered with a result
    failed: int  # answered with their own error
    again: int  # carried into the next group (transient database errors)
    seconds: float


class GroupCommit:
    """A collector thread forms the groups; ``committers`` threads commit them, each group on its
    own connection (and lane). While every committer is busy the next group keeps filling, so
    the busier the server, the bigger its groups. ``run`` blocks its caller until answered."""

    def __init__(self, ctx: Context, settings: GroupSettings | None = None) -> None:
        self.ctx = ctx
        self.settings = settings or GroupSettings()
        self.observers: list[Callable[[GroupCommitted], None]] = []
        self._queue: queue.SimpleQueue[_Work | None] = queue.SimpleQueue()
        self._free = threading.BoundedSemaphore(self.settings.committers)
        self._pool: ThreadPoolExecutor | None = None
        self._collector: threading.Thread | None = None
        self._start = threading.Lock()
        self._closed = False

    def run(self, work: Callable[[Connection], T]) -> T:
        """Run ``work`` in the next group; its result, or its own exception, once committed."""
        if self._closed:
            raise RuntimeError("the group committer is closed")
        self._ensure_started()
        item = _Work(work)
        self._queue.put(item)
        result: T = item.future.result()
        return result

    def close(self) -> None:
        """Finish what is queued, then stop the threads."""
        self._closed = True
        if self._collector is not None:
            self._queue.put(None)
            self._collector.join(timeout=30)

    def _ensure_started(self) -> None:
        with self._start:
            if self._collector is None:
                self._pool = ThreadPoolExecutor(
                    self.settings.committers, thread_name_prefix="jifen-group-commit"
                )
                self._collector = threading.Thread(
                    target=self._collect, name="jifen-group-collect", daemon=True
                )
                self._collector.start()

    def _collect(self) -> None:
        assert self._pool is not None
        while (group := self._next_group()) is not None:
            self._free.acquire()  # a committer is free: the group may still grow meanwhile
            self._top_up(group)
            self._pool.submit(self._commit_safely, group)
        self._pool.shutdown(wait=True)
        while True:  # carried back after the stop: refused, never left waiting
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if item is not None:
                item.future.set_exception(RuntimeError("the group committer is closed"))

    def _next_group(self) -> list[_Work] | None:
        """The first unit of work, then what arrives within the window (None: closing)."""
        first = self._queue.get()
        if first is None:
            return None
        group = [first]
        deadline = time.monotonic() + self.settings.window_s
        while len(group) < self.settings.max_works:
            wait = deadline - time.monotonic()
            if wait <= 0:
                break
            try:
                item = self._queue.get(timeout=wait)
            except queue.Empty:
                break
            if item is None:
                self._queue.put(None)  # stop after this group
                break
            group.append(item)
        return group

    def _top_up(self, group: list[_Work]) -> None:
        """What arrived while the group waited for a committer joins it, up to the bound."""
        while len(group) < self.settings.max_works:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if item is None:
                self._queue.put(None)
                return
            group.append(item)

    def _commit_safely(self, group: list[_Work]) -> None:
        try:
            self._commit(group)
        except BaseException as exc:  # never leave a caller waiting on a dead committer
            for work in group:
                if not work.future.done():
                    work.future.set_exception(exc)
        finally:
            self._free.release()

    def _commit(self, group: list[_Work]) -> None:
        started = time.perf_counter()
        for attempt in range(MAX_ATTEMPTS):
            try:
                with self.ctx.writer.begin() as tx, self.ctx.ledger.one_block(tx) as block:
                    answers, again = self._each(tx, block, group)
                break
            except DBAPIError as exc:  # the block, the commit, or a broken connection
                if not retryable(exc) and not exc.connection_invalidated:
                    answers, again = [(w, exc) for w in group], []
                    break
                if attempt == MAX_ATTEMPTS - 1:
                    answers, again = [(w, exc) for w in group], []
                    break
                time.sleep(random.uniform(0, 0.005 * (attempt + 1)))
        for work, answer in answers:
            if isinstance(answer, BaseException):
                work.future.set_exception(answer)
            else:
                work.future.set_result(answer)
        for work in again:  # into the next group, after this one released its locks
            self._queue.put(work)
        self._report(group, answers, again, started)

    def _each(
        self, tx: Connection, block: Any, group: list[_Work]
    ) -> tuple[list[tuple[_Work, Any]], list[_Work]]:
        """Each unit of work in its own savepoint: a failure rolls back only its own writes."""
        answers: list[tuple[_Work, Any]] = []
        again: list[_Work] = []
        for work in group:
            mark = block.mark()
            savepoint = tx.begin_nested()
            try:
                result = work.run(tx)
            except Exception as exc:  # every error is that request's own answer
                savepoint.rollback()
                block.rollback_to(mark)
                work.attempts += 1
                transient = isinstance(exc, DBAPIError) and retryable(exc)
                if transient and work.attempts < MAX_ATTEMPTS:
                    again.append(work)
                else:
                    answers.append((work, exc))
                continue
            savepoint.commit()
            answers.append((work, result))
        return answers, again

    def _report(
        self,
        group: list[_Work],
        answers: list[tuple[_Work, Any]],
        again: list[_Work],
        started: float,
    ) -> None:
        failed = sum(1 for _, a in answers if isinstance(a, BaseException))
        event = GroupCommitted(
            works=len(group),
            committed=len(answers) - failed,
            failed=failed,
            again=len(again),
            seconds=time.perf_counter() - started,
        )
        for observer in self.observers:
            observer(event)
