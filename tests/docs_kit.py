"""The examples in docs/*.md, found once, and a runner that executes a page's shell examples.

Found here for both docs test modules: ``tests/test_docs.py`` runs the ```python blocks,
``tests/test_docs_shell.py`` the shell blocks. The convention the pages follow is written for
contributors in docs/architecture.md ("Examples that run"); in short:

- ```bash, ```sh and ```shell blocks of one page run **in order, as one bash script** (``set
  -euo pipefail``): variables, functions and background jobs carry from block to block, and the
  first failing command fails the page, named by its page and line.
- ```console blocks are transcripts: each ``$ `` line is a command (run in the same shell, its
  exit status not judged, so a transcript may show a refusal and ``$ echo $?``), and every other
  non-empty line is output that the command must print (the line exactly, anywhere in its
  standard output and error together).
- ``<!-- docs-test: skip (reason) -->`` on the line right before a fence keeps that one block
  out; the reason is reported.
- the page runs in a fresh temporary folder holding the repository's ``examples/`` (so it reads
  as if run from the repository's folder), with the test's virtual environment first on ``PATH``
  and no ``JIFEN_*`` variable set; the well-known ports a page names (``PORTS``, e.g.
  ``127.0.0.1:8000`` and ``--port 8000``) are replaced by free ones, so pages can run side by side.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).parent.parent
DOCS = ROOT / "docs"
FENCE = re.compile(r"^```([\w-]*)[^\n]*\n(.*?)^```[ \t]*$", re.S | re.M)
SKIP = re.compile(r"^<!--\s*docs-test:\s*skip\s*\((?P<reason>.+)\)\s*-->\s*$")
SHELL_LANGS = frozenset({"bash", "sh", "shell", "console"})
PORTS = (8000, 8001, 8571)
"""Ports the pages use by name (the API's default, a local webhook receiver's, the sandbox
provider's); each becomes a free one when the page runs."""
PAGE_TIMEOUT_S = 300.0
_PORT_USE = r"(?<=127\.0\.0\.1:){p}\b|(?<=localhost:){p}\b|(?<=--port ){p}\b|(?<=--port=){p}\b"


@dataclass(frozen=True)
class Block:
    """One fenced block: its page, the page line of its first code line, language and code."""

    page: str
    line: int
    lang: str
    code: str
    skip: str | None  # the reason of a docs-test: skip comment right before the fence


def page_blocks(page: Path) -> list[Block]:
    """Every fenced block of ``page``, in order."""
    text = page.read_text()
    found = []
    for m in FENCE.finditer(text):
        before = text[: m.start()].rstrip("\n").rsplit("\n", 1)[-1]
        skip = SKIP.match(before.strip())
        fence_line = text.count("\n", 0, m.start()) + 1
        found.append(
            Block(page.name, fence_line + 1, m.group(1), m.group(2),
                  skip.group("reason") if skip else None)
        )  # fmt: skip
    return found


def doc_blocks(langs: frozenset[str]) -> list[Block]:
    """The blocks of every docs/*.md page in one of ``langs``, page by page, in order."""
    return [b for page in sorted(DOCS.glob("*.md")) for b in page_blocks(page) if b.lang in langs]


@dataclass(frozen=True)
class Script:
    text: str
    origin: dict[int, str]  # script line -> "page.md:line"


def _console(block: Block, out: list[tuple[str, str]]) -> None:
    """A transcript: each ``$ cmd`` runs in this shell; the lines after it must be printed."""
    where = f"{block.page}:{block.line}"
    lines = block.code.splitlines()
    i = 0
    while i < len(lines):
        if not lines[i].startswith("$ "):
            raise ValueError(f"{block.page}:{block.line + i}: a console block starts with '$ '")
        cmd, at = lines[i][2:], f"{block.page}:{block.line + i}"
        i += 1
        expected = []
        while i < len(lines) and not lines[i].startswith("$ "):
            if lines[i].strip():
                expected.append(lines[i])
            i += 1
        out.append((f'{{ __rc_set "$__rc"; {cmd}', at))  # the brace on its own line: a comment
        out.append(('} >"$__out" 2>&1 && __rc=0 || __rc=$?', at))  # ending cmd cannot hide it
        out.append(('cat "$__out"', at))
        for line in expected:
            quoted = "'" + line.replace("'", "'\\''") + "'"
            out.append((f'__expect {quoted} "{at}"', where))


PRELUDE = r"""set -Eeuo pipefail
__out="$(mktemp)"; __rc=0
__rc_set() { return "$1"; }
__expect() {
  grep -Fxq -- "$1" "$__out" || { echo "docs-test: $2 did not print: $1" >&2; exit 97; }
}
trap 'echo "docs-test: failed (exit $?) at script line $LINENO: $BASH_COMMAND" >&2' ERR
"""


def build_script(blocks: list[Block], ports: dict[int, int]) -> Script:
    """One bash script running ``blocks`` in order, each line traced back to its page line."""
    lines: list[tuple[str, str]] = [(line, "prelude") for line in PRELUDE.splitlines()]
    for block in blocks:
        code = block.code
        for old, new in ports.items():
            code = re.sub(_PORT_USE.format(p=old), str(new), code)
        lines.append((f"echo '::docs-test {block.page}:{block.line}' >&2", "marker"))
        if block.lang == "console":
            _console(Block(block.page, block.line, block.lang, code, None), lines)
        else:
            lines.extend((line, f"{block.page}:{block.line + n}")
                         for n, line in enumerate(code.splitlines()))  # fmt: skip
    return Script("\n".join(t for t, _ in lines) + "\n",
                  {n + 1: where for n, (_, where) in enumerate(lines)})  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Run:
    returncode: int
    output: str  # stdout and stderr together, in order
    failed_at: str | None  # "page.md:line" of the failing command, when the script says


def run_page(blocks: list[Block], workdir: Path, timeout_s: float = PAGE_TIMEOUT_S) -> Run:
    """Run ``blocks`` (one page's shell blocks) in ``workdir``; stop whatever they started."""
    shutil.copytree(ROOT / "examples", workdir / "examples")
    script = build_script(blocks, {p: free_port() for p in PORTS})
    (workdir / "page.sh").write_text(script.text)
    env = {k: v for k, v in os.environ.items() if not k.startswith("JIFEN_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONUNBUFFERED"] = "1"
    log = workdir / "page.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            ["bash", str(workdir / "page.sh")], cwd=workdir, env=env, stdin=subprocess.DEVNULL,
            stdout=out, stderr=subprocess.STDOUT, text=True, start_new_session=True,
        )  # fmt: skip
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            out.write(f"\ndocs-test: the page did not finish within {timeout_s:.0f} s\n")
        finally:
            _stop_group(proc.pid)  # the servers the page started in the background
            proc.wait()
    output = log.read_text()
    m = re.findall(r"docs-test: failed \(exit \d+\) at script line (\d+)|page\.sh: line (\d+): ",
                   output)  # fmt: skip
    failed_at = script.origin.get(int(m[-1][0] or m[-1][1])) if m else None
    m2 = re.findall(r"docs-test: (\S+:\d+) did not print", output)
    return Run(proc.returncode, output, failed_at or (m2[-1] if m2 else None))


def _stop_group(pgid: int) -> None:
    """Stop the page's process group (it was started in a session of its own: only its
    processes are in it), politely first."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return
        for _ in range(100):  # bounded: 10 s for the group to go
            try:
                os.killpg(pgid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)
