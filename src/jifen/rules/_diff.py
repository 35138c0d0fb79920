"""Diffs between rule documents: what a publication announces to members and merchants (brief §6).

The diff is taken over the canonical JSON dump, flattened to dotted paths: nested models and maps
become ``earn.category_multipliers_bp.food``; lists are compared whole (the campaign list is one
term). An empty map has no entries and so contributes no paths. Against no previous document (the
first publication) every term is listed as added.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from jifen.rules._document import RuleDocument

ChangeKind = Literal["added", "removed", "changed"]


@dataclass(frozen=True, slots=True)
class Change:
    """One term that differs. ``kind`` tells an added or removed path from one changed to/from
    ``None`` (for added, ``old`` is None; for removed, ``new`` is None)."""

    path: str
    old: Any
    new: Any
    kind: ChangeKind = "changed"


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Dotted path → leaf value for a JSON-mode dump; dicts recurse, everything else is a leaf."""
    if isinstance(value, dict):
        flat: dict[str, Any] = {}
        for key, child in value.items():
            flat.update(flatten(child, f"{prefix}.{key}" if prefix else str(key)))
        return flat
    return {prefix: value}


def diff_documents(old: RuleDocument | None, new: RuleDocument) -> list[Change]:
    """Every path whose value differs between ``old`` and ``new``, sorted by path."""
    before = flatten(old.model_dump(mode="json")) if old is not None else {}
    after = flatten(new.model_dump(mode="json"))
    changes: list[Change] = []
    for path in sorted(before.keys() | after.keys()):
        if path not in before:
            changes.append(Change(path, None, after[path], "added"))
        elif path not in after:
            changes.append(Change(path, before[path], None, "removed"))
        elif before[path] != after[path]:
            changes.append(Change(path, before[path], after[path]))
    return changes


def _show(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def render_diff(changes: list[Change]) -> str:
    """One line per change: ``path: old → new``, ``+ path: new``, ``- path: old``."""
    lines = []
    for change in changes:
        if change.kind == "added":
            lines.append(f"+ {change.path}: {_show(change.new)}")
        elif change.kind == "removed":
            lines.append(f"- {change.path}: {_show(change.old)}")
        else:
            lines.append(f"{change.path}: {_show(change.old)} → {_show(change.new)}")
    return "\n".join(lines)
