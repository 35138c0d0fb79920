"""The rulebook: rule versions in the store, around the pure lifecycle in ``jifen.rules``.

Publishing and withdrawing are each one transaction: the checks (notice, horizon, order of
effective dates, rights of points already issued; for a withdrawal, that the version is announced
and not yet in force) run on the versions read under lock, and a refusal writes nothing.

A draft's diff is taken when it is read, against the latest version still announced then, so it
always shows what publishing it would change, whatever was published or withdrawn since it was
saved (the diff stored with a draft is only what it was at the time).

What a reader is shown of a version is a ``VersionView``: the version, where it stands, and what
the compliance linter finds in it, computed here (``view``) so the API only maps it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, Row, func, select

from jifen.compliance import Finding, lint_rules, refused
from jifen.rules import (
    RuleDocument,
    Version,
    VersionStatus,
    check_publication,
    diff_documents,
    latest_published,
    render_diff,
    status_at,
    version_at,
    withdraw,
)
from jifen.rules.errors import AlreadyPublished, LintFailed, RuleVersionNotFound
from jifen.store import tables as t
from jifen.store import writer


@dataclass(frozen=True)
class VersionView:
    """A rule version as a reader sees it: where it stands, and what the compliance linter finds
    in it. Every version is linted when it is read, drafts above all, so a reviewer sees the
    findings before trying to publish (publishing lints again, under lock, and refuses)."""

    version: Version
    status: VersionStatus
    findings: tuple[Finding, ...]


def view(version: Version, status: VersionStatus) -> VersionView:
    """``version`` at ``status`` (the caller knows it, e.g. the version in force), linted."""
    return VersionView(version, status, tuple(lint_rules(version.document)))


def views_at(versions: Sequence[Version], now: datetime) -> list[VersionView]:
    """Each of ``versions`` as it stands at ``now`` among them, linted."""
    return [view(v, status_at(v, versions, now)) for v in versions]


def _document_text(document: RuleDocument) -> str:
    return json.dumps(document.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)


def _version(row: Row[Any]) -> Version:
    m = row._mapping
    return Version(
        number=m["number"],
        document=RuleDocument.model_validate_json(m["document"]),
        published_at=m["published_at"],
        effective_at=m["effective_at"],
        reason=m["reason"],
        diff_text=m["diff_text"],
        withdrawn_at=m["withdrawn_at"],
        withdraw_reason=m["withdraw_reason"],
    )


def _draft_diff(versions: list[Version], document: RuleDocument) -> str:
    """What publishing ``document`` would announce, against the latest version still announced."""
    base = latest_published(versions)
    return render_diff(diff_documents(base.document if base is not None else None, document))


def _current_diff(version: Version, published: list[Version]) -> Version:
    """A draft with its diff against ``published`` as they stand; a published version as is."""
    if version.published_at is not None:
        return version
    return replace(version, diff_text=_draft_diff(published, version.document))


def _locked(conn: Connection, number: int) -> tuple[list[Version], Version]:
    """Every version, read under lock (publications and withdrawals queue behind each other),
    and version ``number`` among them."""
    rows = conn.execute(
        select(t.rule_versions).order_by(t.rule_versions.c.number).with_for_update()
    ).all()
    versions = [_version(r) for r in rows]
    target = next((v for v in versions if v.number == number), None)
    if target is None:
        raise RuleVersionNotFound(
            f"没有第 {number} 版规则 / no rule version {number}", version=number
        )
    return versions, target


class Rulebook:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._writer = writer(engine)
        self._cache: tuple[tuple[int, int], list[Version]] | None = None

    @contextmanager
    def _reading(self, conn: Connection | None) -> Iterator[Connection]:
        """The caller's connection inside its unit of work (never a second one), else a fresh."""
        if conn is not None:
            yield conn
        else:
            with self.engine.connect() as fresh:
                yield fresh

    @contextmanager
    def _writing(self, conn: Connection | None) -> Iterator[Connection]:
        if conn is not None:
            yield conn
        else:
            with self._writer.begin() as fresh:
                yield fresh

    def versions(self, *, conn: Connection | None = None) -> list[Version]:
        """Every version, drafts included, by number."""
        with self._reading(conn) as c:
            rows = c.execute(select(t.rule_versions).order_by(t.rule_versions.c.number))
            versions = [_version(r) for r in rows]
        published = [v for v in versions if v.published_at is not None]
        return [_current_diff(v, published) for v in versions]

    def published(self, *, conn: Connection | None = None) -> list[Version]:
        """Published versions, withdrawn ones included, in the order they were published (the
        public history). Cached: publication is rare, reads are hot. Publishing and withdrawing
        each only ever add to one of the two counts, so the pair changes whenever the history
        does."""
        with self._reading(conn) as conn:
            counts = conn.execute(
                select(func.count(), func.count(t.rule_versions.c.withdrawn_at)).where(
                    t.rule_versions.c.published_at.is_not(None)
                )
            ).one()
            count = (int(counts[0]), int(counts[1]))
            if self._cache is None or self._cache[0] != count:
                rows = conn.execute(
                    select(t.rule_versions)
                    .where(t.rule_versions.c.published_at.is_not(None))
                    .order_by(t.rule_versions.c.published_at, t.rule_versions.c.number)
                )
                self._cache = (count, [_version(r) for r in rows])
        return list(self._cache[1])

    def in_force(self, when: datetime, *, conn: Connection | None = None) -> Version:
        return version_at(self.published(conn=conn), when)

    def get(self, number: int, *, conn: Connection | None = None) -> Version:
        with self._reading(conn) as c:
            row = c.execute(
                select(t.rule_versions).where(t.rule_versions.c.number == number)
            ).first()
            if row is None:
                raise RuleVersionNotFound(
                    f"没有第 {number} 版规则 / no rule version {number}", version=number
                )
            version = _version(row)
            if version.published_at is None:
                version = _current_diff(version, self.published(conn=c))
        return version

    def draft(
        self, document: RuleDocument, now: datetime, *, conn: Connection | None = None
    ) -> Version:
        """Save a draft; it becomes the next version number. Its diff is against the latest
        published version, so a reviewer sees what publishing it would change."""
        with self._writing(conn) as conn:
            number = (
                conn.execute(select(func.max(t.rule_versions.c.number))).scalar_one() or 0
            ) + 1
            diff_text = _draft_diff(self.published(conn=conn), document)
            conn.execute(
                t.rule_versions.insert().values(
                    number=number,
                    document=_document_text(document),
                    created_at=now,
                    published_at=None,
                    effective_at=None,
                    reason="",
                    diff_text=diff_text,
                )
            )
            return self.get(number, conn=conn)

    def publish(
        self,
        number: int,
        *,
        effective_at: datetime,
        reason: str,
        now: datetime,
        points_outstanding: bool,
        conn: Connection | None = None,
    ) -> Version:
        with self._writing(conn) as conn:
            versions, target = _locked(conn, number)
            if target.published_at is not None:
                raise AlreadyPublished(
                    f"第 {number} 版已公示 / version {number} is published"
                    + (
                        "（已撤回，请另起草稿）/ (withdrawn: draft its terms again)"
                        if target.withdrawn_at is not None
                        else ""
                    ),
                    version=number,
                    detail_key="withdrawn" if target.withdrawn_at is not None else None,
                )
            findings = lint_rules(target.document)
            if refused(findings):
                raise LintFailed(
                    "合规检查未通过，不能公示 / the compliance linter refuses this version: "
                    + "; ".join(f"{f.id} {f.path}: {f.detail}" for f in findings if f.refuses),
                    errors=[f.as_dict() for f in findings],
                )
            changes = check_publication(
                versions,
                target.document,
                published_at=now,
                effective_at=effective_at,
                reason=reason,
                points_outstanding=points_outstanding,
            )
            conn.execute(
                t.rule_versions.update()
                .where(t.rule_versions.c.number == number)
                .values(
                    published_at=now,
                    effective_at=effective_at,
                    reason=reason.strip(),
                    diff_text=render_diff(changes),
                )
            )
            return self.get(number, conn=conn)

    def withdraw(
        self, number: int, *, reason: str, now: datetime, conn: Connection | None = None
    ) -> Version:
        """Withdraw an announced version before it takes effect (``jifen.rules.withdraw`` says
        which may be); it stays in the history, and binds nothing from now on."""
        with self._writing(conn) as conn:
            versions, target = _locked(conn, number)
            withdrawn = withdraw(target, versions, now=now, reason=reason)
            updated = conn.execute(
                t.rule_versions.update()
                .where(
                    t.rule_versions.c.number == number,
                    t.rule_versions.c.withdrawn_at.is_(None),
                )
                .values(
                    withdrawn_at=withdrawn.withdrawn_at,
                    withdraw_reason=withdrawn.withdraw_reason,
                )
            )
            assert updated.rowcount == 1, "the version changed under the lock"
            return self.get(number, conn=conn)
