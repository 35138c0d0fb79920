"""The error catalogue as a whole (issue 9): every ``JifenError`` class in every package has a
code of its own (one class per concept, so a code never means two things) and the code is
documented for the people who meet it somewhere under ``docs/``."""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections import defaultdict
from pathlib import Path

import jifen
from jifen.errors import JifenError

DOCS = Path(__file__).parent.parent / "docs"


def _error_classes() -> list[type[JifenError]]:
    for info in pkgutil.walk_packages(jifen.__path__, "jifen."):
        if ".migrations" not in info.name and not info.name.endswith("__main__"):
            importlib.import_module(info.name)
    found, pending = [], list(JifenError.__subclasses__())
    while pending:
        cls = pending.pop()
        pending += cls.__subclasses__()
        found.append(cls)
    return found


def test_every_error_code_belongs_to_one_class() -> None:
    by_code: dict[str, list[str]] = defaultdict(list)
    for cls in _error_classes():
        by_code[cls.code].append(f"{cls.__module__}.{cls.__qualname__}")
    shared = {code: names for code, names in by_code.items() if len(names) > 1}
    assert not shared, shared


def test_every_error_class_lives_in_its_package_errors_module() -> None:
    misplaced = [
        f"{cls.__module__}.{cls.__qualname__}"
        for cls in _error_classes()
        if cls.__module__ != "jifen.errors" and not cls.__module__.endswith(".errors")
    ]
    assert not misplaced, misplaced


def test_codes_are_dotted_lower_snake_and_not_found_is_the_one_suffix_for_missing_things() -> None:
    for cls in _error_classes():
        assert re.fullmatch(r"[a-z_]+(\.[a-z_]+)*", cls.code), cls
        assert not cls.code.endswith(".unknown"), cls


def test_every_error_code_is_documented() -> None:
    text = "\n".join(p.read_text(encoding="utf-8") for p in DOCS.glob("*.md"))
    documented = set(re.findall(r"`([a-z_]+(?:\.[a-z_]+)+)`", text))
    missing = sorted({cls.code for cls in _error_classes()} - documented)
    assert not missing, f"document these codes in docs/: {missing}"
