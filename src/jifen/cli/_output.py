"""What the CLI prints, and how stored data is kept from speaking for itself on a terminal.

Whatever comes from a store or a file (account and merchant names, finding messages) is printed
as plain text: never read as Rich markup or ``:emoji:`` codes, and with control characters shown
as escapes (``\\x1b``), so stored data cannot restyle, hide or forge what an operator reads. Every
command prints through the two consoles here, with ``say`` and ``data`` (or ``json_text`` for
``--json``), and writes money with ``yuan``.
"""

from __future__ import annotations

import json
import unicodedata
from datetime import datetime

from rich.console import Console
from rich.text import Text

from jifen.app import Context, SimulatedClock

__all__ = [
    "announce_clock",
    "announce_start",
    "data",
    "err",
    "json_text",
    "out",
    "plain",
    "say",
    "yuan",
]

# verification lines stay whole, for grep and logs; no emoji codes or highlighting anywhere
out = Console(soft_wrap=True, emoji=False, highlight=False)
err = Console(stderr=True, emoji=False, highlight=False)
_VISIBLE_ESCAPE = {"Cc", "Cf", "Cs", "Zl", "Zp"}  # control, format (bidi, zero-width), separators


def plain(text: object) -> str:
    """``text`` with every control, format and line-separator character replaced by its visible
    escape (``\\x1b``, ``\\n``, ``\\u202e``): one line, exactly what is stored, nothing hidden."""
    value = str(text)
    if value.isprintable():
        return value
    return "".join(
        ch.encode("unicode_escape").decode("ascii")
        if unicodedata.category(ch) in _VISIBLE_ESCAPE
        else ch
        for ch in value
    )


def data(text: object, style: str = "") -> Text:
    """Stored or read data as a Rich ``Text``: printed literally (no markup, no emoji codes)."""
    return Text(plain(text), style=style)


def say(console: Console, *parts: str | Text | tuple[str, str]) -> None:
    """Print one line of parts: ``str`` parts are our own text (literal, never markup), ``Text``
    parts come from ``data()``, ``(text, style)`` pairs are styled labels. Never wrapped."""
    console.print(Text.assemble(*parts), markup=False, emoji=False, highlight=False, soft_wrap=True)


def json_text(value: object, *, indent: int | None = None) -> str:
    """JSON for a terminal: like ``ensure_ascii=False`` (which already escapes C0 controls), but
    DEL, C1 controls, format and line separators are written as ``\\uXXXX`` too: the same JSON
    value, nothing hidden. (Raw C0 characters left in the text are JSON's own whitespace.)"""
    text = json.dumps(value, ensure_ascii=False, indent=indent)
    return "".join(
        json.dumps(ch)[1:-1] if ch >= "\x7f" and unicodedata.category(ch) in _VISIBLE_ESCAPE else ch
        for ch in text
    )


def yuan(fen: int) -> str:
    """Exact yuan text for an amount in fen (integer arithmetic only)."""
    sign = "-" if fen < 0 else ""
    return f"{sign}¥{abs(fen) // 100:,}.{abs(fen) % 100:02d}"


def announce_clock(ctx: Context, asked: datetime | None = None) -> None:
    """Say so when a command runs on the store's simulated clock rather than real time."""
    if not isinstance(ctx.clock, SimulatedClock):
        return
    now = ctx.clock.now()
    resumed = (
        f" (resumed at the store's time, not {asked.isoformat()}: it never goes back)"
        if asked is not None and asked.astimezone(now.tzinfo) != now
        else ""
    )
    say(
        err,
        ("模拟时钟 simulated clock", "yellow"),
        f": this store runs on a simulated clock, now {now.isoformat()}{resumed}",
    )


def announce_start(ctx: Context, address: str, jobs_every_s: float, workers: int) -> None:
    """What ``jifen serve`` is about to run, before its JSON logs begin: the address, the store
    (its URL without the password), the clock and its time, and when the daily jobs run."""
    kind = "simulated 模拟" if isinstance(ctx.clock, SimulatedClock) else "real 真实"
    jobs = (
        f"every {jobs_every_s:g} s: close each business day once it is over "
        "(Asia/Shanghai), release and expire what is due"
        if jobs_every_s > 0
        else "off (--jobs-every 0): run `jifen jobs run` to close business days"
    )
    store = ctx.engine.url.render_as_string(hide_password=True)
    for label, value in (
        ("地址 address", f"{address} (OpenAPI at {address}/docs; {workers} worker(s))"),
        ("账本 store", store),
        ("时钟 clock", f"{kind}, now {ctx.clock.now().isoformat()}"),
        ("日终任务 daily jobs", jobs),
    ):
        say(err, (label, "bold"), ": ", data(value))
