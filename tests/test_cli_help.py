"""Every command's help reads like a manual (issue 12): no `<bool>`, `<str>` or other Python type
placeholders, for any command or subcommand; and `jifen --version` says the package's version."""

from __future__ import annotations

import re
import subprocess
import sys
from importlib.metadata import version
from typing import Any

import pytest

from jifen.cli import command

PLACEHOLDER = re.compile(r"<(?:str|bool|int|float|path|file|datetime|text|[a-z]+ range)>")


def _paths(cmd: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths = [prefix]
    for name, sub in sorted(getattr(cmd, "commands", {}).items()):
        paths += _paths(sub, (*prefix, name))
    return paths


PATHS = _paths(command())


def test_the_walk_finds_every_command() -> None:
    names = {" ".join(p) for p in PATHS}
    assert {"", "init", "demo", "serve", "verify", "lint", "jobs run", "lab"} <= names
    assert len(PATHS) > 12


@pytest.mark.parametrize("path", PATHS, ids=lambda p: " ".join(p) or "jifen")
def test_help_has_no_type_placeholders(
    path: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as done:
        command().main([*path, "--help"], prog_name="jifen")
    assert done.value.code == 0
    text = capsys.readouterr().out
    assert "Usage: jifen" in text
    assert not PLACEHOLDER.findall(text), text


def test_version_is_the_package_version() -> None:
    shown = subprocess.run(
        [sys.executable, "-m", "jifen", "--version"], capture_output=True, text=True, timeout=60
    )
    assert shown.returncode == 0
    assert shown.stdout == f"jifen {version('jifen')}\n"
