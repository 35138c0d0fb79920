"""The rulebook: rule versions in the store, around the pure lifecycle in ``jifen.rules``.

Publishing is one transaction: the checks (notice, order of effective dates, rights of points
already issued) run on the versions read under lock, and a refusal writes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, Row, func, select

from jifen.alliance.errors import InvalidRequest
from jifen.compliance import LintFailed, lint_rules, refused
from jifen.rules import (
    RuleDocument,
    Version,
    check_publication,
    diff_documents,
    render_diff,
    version_at,
)
from jifen.store import tables as t
from jifen.store import writer


class RuleVersionUnknown(InvalidRequest):
    code = "rules.version_not_found"
    status = 404


class AlreadyPublished(InvalidRequest):
    code = "rules.already_published"
    status = 409


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
    )


class Rulebook:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._writer = writer(engine)
        self._cache: tuple[int, list[Version]] | None = None

    @contextmanager
    def _reading(self, conn: Connection | None) -> Iterator[Connection]:
        if conn is not None:
            yield conn
        else:
            with self.engine.connect() as fresh:
                yield fresh

    def versions(self, *, conn: Connection | None = None) -> list[Version]:
        """Every version, drafts included, by number."""
        with self._reading(conn) as c:
            return [
                _version(r)
                for r in c.execute(select(t.rule_versions).order_by(t.rule_versions.c.number))
            ]

    def published(self, *, conn: Connection | None = None) -> list[Version]:
        """Published versions (the public history). Cached: publication is rare, reads are hot."""
        with self._reading(conn) as conn:
            count = conn.execute(
                select(func.count()).where(t.rule_versions.c.published_at.is_not(None))
            ).scalar_one()
            if self._cache is None or self._cache[0] != count:
                rows = conn.execute(
                    select(t.rule_versions)
                    .where(t.rule_versions.c.published_at.is_not(None))
                    .order_by(t.rule_versions.c.effective_at)
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
            raise RuleVersionUnknown(f"没有第 {number} 版规则 / no rule version {number}")
        return _version(row)

    @contextmanager
    def _writing(self, conn: Connection | None) -> Iterator[Connection]:
        if conn is not None:
            yield conn
        else:
            with self._writer.begin() as fresh:
                yield fresh

    def draft(
        self, document: RuleDocument, now: datetime, *, conn: Connection | None = None
    ) -> Version:
        """Save a draft; it becomes the next version number. Its diff is against the latest
        published version, so a reviewer sees what publishing it would change."""
        with self._writing(conn) as conn:
            number = (
                conn.execute(select(func.max(t.rule_versions.c.number))).scalar_one() or 0
            ) + 1
            published = [v for v in self.published(conn=conn) if v.published_at]
            base = published[-1].document if published else None
            diff_text = render_diff(diff_documents(base, document))
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
            rows = conn.execute(
                select(t.rule_versions).order_by(t.rule_versions.c.number).with_for_update()
            ).all()
            versions = [_version(r) for r in rows]
            target = next((v for v in versions if v.number == number), None)
            if target is None:
                raise RuleVersionUnknown(f"没有第 {number} 版规则 / no rule version {number}")
            if target.published_at is not None:
                raise AlreadyPublished(f"第 {number} 版已公示 / version {number} is published")
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
