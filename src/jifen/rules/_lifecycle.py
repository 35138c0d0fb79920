"""Version lifecycle: draft → published (announced) → effective → superseded, or an announced
version withdrawn before it takes effect (brief §6).

The history of versions is data handed in; these functions decide, they never store. A version is
a draft until ``published_at``; between publication and ``effective_at`` it is announced; the latest
published version whose ``effective_at`` has passed is in force, and earlier ones are superseded.
The payment time of an order picks the version (``version_at``).

``check_publication`` is the gate every publication passes. The notice owed is the one promised by
the latest published version (what members were last told) or, if longer, by the version in force
when the change is published (the promise that governs now), and never under 7 days (电子商务法
art 34). The first version ever published has no earlier promise and may take effect at once.
An effective date may lie at most ``MAX_EFFECTIVE_HORIZON_DAYS`` after publication: every later
version must take effect after it, so a date years ahead would freeze the rules until then.
While points are outstanding the rights gate (``rights_reductions``) must find nothing.

``withdraw`` calls back an announced version before its effective date (a wrong date, a change
abandoned). A withdrawn version never takes effect and binds nothing: it is not the version in
force at any time, not the promise of notice, not a date later versions must follow, and not the
base later diffs are taken against. It stays in the public history, marked withdrawn, with when
and why.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from jifen.rules._diff import Change, diff_documents
from jifen.rules._document import MAX_NOTICE_DAYS, RuleDocument
from jifen.rules._rights import rights_reductions
from jifen.rules._time import require_aware, require_supported
from jifen.rules.errors import (
    AlreadyWithdrawn,
    EffectiveInPast,
    EffectiveOrder,
    EffectiveTooFar,
    InvalidArgument,
    NoRulesInForce,
    NoticeTooShort,
    NotWithdrawable,
    ReasonRequired,
    RightsReduced,
    Unchanged,
)

MIN_NOTICE_DAYS = 7
MAX_REASON_CHARS = 500
MAX_EFFECTIVE_HORIZON_DAYS = 366
"""How far after its publication a version may take effect: a year, leap day included. Rules are
planned a year ahead at most, and any notice a document can promise (at most ``MAX_NOTICE_DAYS``)
fits inside it, so the horizon never stands in the way of a change with lawful notice."""
assert MAX_EFFECTIVE_HORIZON_DAYS > MAX_NOTICE_DAYS


class VersionStatus(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    EFFECTIVE = "effective"
    SUPERSEDED = "superseded"
    WITHDRAWN = "withdrawn"


@dataclass(frozen=True)
class Version:
    """One numbered rule version; ``published_at`` None = draft (``effective_at`` then a plan).

    ``withdrawn_at`` and ``withdraw_reason`` are set together, only on a published version, and
    only before it took effect (``published_at <= withdrawn_at < effective_at``).
    """

    number: int
    document: RuleDocument
    published_at: datetime | None
    effective_at: datetime | None
    reason: str
    diff_text: str
    withdrawn_at: datetime | None = None
    withdraw_reason: str | None = None

    def __post_init__(self) -> None:
        if self.number < 1:
            raise InvalidArgument("版本号从 1 开始 / number must be >= 1", number=self.number)
        for name in ("published_at", "effective_at", "withdrawn_at"):
            value = getattr(self, name)
            if value is not None:
                require_aware(name, value)
        if self.published_at is not None and self.effective_at is None:
            raise InvalidArgument(
                "已发布版本须有生效时间 / a published version needs effective_at",
                number=self.number,
            )
        if (self.withdrawn_at is None) != (self.withdraw_reason is None):
            raise InvalidArgument(
                "撤回时间与理由须同时给出 / withdrawn_at and withdraw_reason go together",
                number=self.number,
            )
        if self.withdrawn_at is not None and not (
            self.published_at is not None
            and self.effective_at is not None
            and self.published_at <= self.withdrawn_at < self.effective_at
        ):
            raise InvalidArgument(
                "只有公示后、生效前才能撤回 / a version is withdrawn after its publication and "
                "before its effective_at",
                number=self.number,
            )


def _announced(versions: Sequence[Version]) -> list[Version]:
    """Published and not withdrawn: the versions that bind (a withdrawal is final, so it is
    ignored whenever it happened; it always happened before the version could take effect)."""
    return [v for v in versions if v.published_at is not None and v.withdrawn_at is None]


def latest_published(versions: Sequence[Version]) -> Version | None:
    """The version published last and not withdrawn (ties: the higher number), or None before
    the first one: what members were last told, and the base of every new diff."""
    announced = _announced(versions)
    return max(announced, key=lambda v: (v.published_at, v.number)) if announced else None


def _in_force(versions: Sequence[Version], when: datetime) -> Version | None:
    """The announced version with the latest effective_at <= when (ties: the higher number)."""
    started = [
        v for v in _announced(versions) if v.effective_at is not None and v.effective_at <= when
    ]
    return max(started, key=lambda v: (v.effective_at, v.number)) if started else None


def version_at(versions: Sequence[Version], when: datetime) -> Version:
    """The version in force at ``when``: the announced one with the latest effective_at <= when
    (withdrawn versions never are)."""
    require_aware("when", when)
    version = _in_force(versions, when)
    if version is None:
        raise NoRulesInForce(
            "该时刻无生效规则 / no rule version in force at that time", when=when.isoformat()
        )
    return version


def status_at(version: Version, versions: Sequence[Version], now: datetime) -> VersionStatus:
    """Where ``version`` stands at ``now`` among ``versions`` (which should include it)."""
    require_aware("now", now)
    if version.published_at is None or now < version.published_at:
        return VersionStatus.DRAFT
    if version.withdrawn_at is not None and now >= version.withdrawn_at:
        return VersionStatus.WITHDRAWN
    assert version.effective_at is not None  # Version.__post_init__ guarantees it
    if now < version.effective_at:
        return VersionStatus.PUBLISHED
    in_force = version_at([*versions, version], now)
    if in_force.number == version.number:
        return VersionStatus.EFFECTIVE
    return VersionStatus.SUPERSEDED


def _notice_owed(versions: Sequence[Version], current: Version, published_at: datetime) -> int:
    """Days of notice owed: the longest of the latest announced promise and the one in force."""
    in_force = _in_force(versions, published_at)
    in_force_days = in_force.document.notice_days if in_force is not None else 0
    return max(MIN_NOTICE_DAYS, current.document.notice_days, in_force_days)


def _require_reason(reason: str) -> None:
    if not reason.strip() or len(reason) > MAX_REASON_CHARS:
        raise ReasonRequired(
            f"须填写理由（1–{MAX_REASON_CHARS} 字）/ "
            f"a reason of 1–{MAX_REASON_CHARS} characters is required",
            max_chars=MAX_REASON_CHARS,
        )


def check_publication(
    versions: Sequence[Version],
    proposed_document: RuleDocument,
    *,
    published_at: datetime,
    effective_at: datetime,
    reason: str,
    points_outstanding: bool,
) -> list[Change]:
    """Refuse a publication that breaks a promise; otherwise return its diff to announce.

    Checks, in order: reason, effective_at not before published_at, nor beyond the horizon,
    notice, effective order, unchanged, rights. Withdrawn versions take part in none of them. The
    diff is against the latest published version still announced (all added if none).
    """
    require_supported("published_at", published_at)
    require_aware("effective_at", effective_at)
    _require_reason(reason)
    if effective_at < published_at:
        raise EffectiveInPast(
            "生效时间早于发布时间 / effective_at is before published_at",
            published_at=published_at.isoformat(),
            effective_at=effective_at.isoformat(),
        )
    latest_allowed = published_at + timedelta(days=MAX_EFFECTIVE_HORIZON_DAYS)
    if effective_at > latest_allowed:
        raise EffectiveTooFar(
            f"生效时间最迟为公示后 {MAX_EFFECTIVE_HORIZON_DAYS} 天 / effective_at may be at most "
            f"{MAX_EFFECTIVE_HORIZON_DAYS} days after publication; the latest allowed is "
            f"{latest_allowed.isoformat()}",
            max_days=MAX_EFFECTIVE_HORIZON_DAYS,
            latest_effective_at=latest_allowed.isoformat(),
        )
    current = latest_published(versions)
    if current is not None:
        notice_days = _notice_owed(versions, current, published_at)
        earliest = published_at + timedelta(days=notice_days)
        if effective_at < earliest:
            raise NoticeTooShort(
                f"须提前 {notice_days} 天公示 / changes need {notice_days} days' notice; "
                f"earliest effective_at is {earliest.isoformat()}",
                notice_days=notice_days,
                earliest_effective_at=earliest.isoformat(),
                version=current.number,
            )
    for earlier in _announced(versions):
        assert earlier.effective_at is not None
        if effective_at <= earlier.effective_at:
            raise EffectiveOrder(
                f"须晚于版本 {earlier.number} 的生效时间 / effective_at must be after version "
                f"{earlier.number}'s ({earlier.effective_at.isoformat()})",
                version=earlier.number,
                effective_at=earlier.effective_at.isoformat(),
            )
    if current is not None and proposed_document == current.document:
        raise Unchanged(
            f"与版本 {current.number} 相同 / identical to version {current.number}",
            version=current.number,
        )
    if current is not None and points_outstanding:
        reductions = rights_reductions(current.document, proposed_document)
        if reductions:
            listed = "; ".join(f"{r.path} ({r.reason_zh} / {r.reason_en})" for r in reductions)
            raise RightsReduced(
                f"不得减损已发积分的权益 / may not reduce the rights of issued points: {listed}",
                paths=", ".join(r.path for r in reductions),
                reductions=[
                    {
                        "path": r.path,
                        "old": r.old,
                        "new": r.new,
                        "reason_zh": r.reason_zh,
                        "reason_en": r.reason_en,
                    }
                    for r in reductions
                ],
            )
    return diff_documents(current.document if current is not None else None, proposed_document)


def withdraw(
    version: Version, versions: Sequence[Version], *, now: datetime, reason: str
) -> Version:
    """``version`` withdrawn at ``now`` for ``reason``, or a refusal (nothing changes).

    Only a version announced and not yet effective at ``now`` (status published) may be
    withdrawn. A draft is not: it was never announced, so it is simply left unpublished. A version
    that has taken effect is not either: members may already hold points under it, so it is
    changed the lawful way, by publishing the next version with notice.
    """
    now = require_supported("now", now)
    _require_reason(reason)
    status = status_at(version, versions, now)
    if status is VersionStatus.WITHDRAWN:
        assert version.withdrawn_at is not None
        raise AlreadyWithdrawn(
            f"第 {version.number} 版已于 {version.withdrawn_at.isoformat()} 撤回 / version "
            f"{version.number} was withdrawn at {version.withdrawn_at.isoformat()}",
            version=version.number,
            status=status.value,
            withdrawn_at=version.withdrawn_at,
        )
    if status is VersionStatus.DRAFT:
        raise NotWithdrawable(
            f"第 {version.number} 版是草稿，未公示，无需撤回 / version {version.number} is a "
            "draft: it was never announced, leave it unpublished",
            version=version.number,
            status=status.value,
            detail_key="draft",
        )
    if status is not VersionStatus.PUBLISHED:
        raise NotWithdrawable(
            f"第 {version.number} 版已生效，不能撤回，请公示新版本 / version {version.number} "
            "has taken effect and cannot be withdrawn: publish a new version instead",
            version=version.number,
            status=status.value,
            detail_key="in_force",
        )
    return replace(version, withdrawn_at=now, withdraw_reason=reason.strip())
