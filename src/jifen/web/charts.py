"""Charts for the consoles, drawn on the server as SVG with matplotlib's object API.

Why server-side SVG and not a JavaScript charting library: the pages run under a policy that
allows no inline script, a chart must read the same on a phone with scripts off, and matplotlib
is already how Jifen draws (the scheme lab). The SVG keeps its text as text (``svg.fonttype:
none``), so Chinese labels are drawn by the reader's own fonts. It is handed to the page as a
``data:`` image (``<img src=… alt=…>``): matplotlib's SVG styles itself inline, which the page's
policy forbids, while an image is its own document that runs nothing. Every chart sits beside a
table of the same figures, for screen readers and for copying.

Values are integers (points, fen); they are plotted as they are, and the axis says the unit.
"""

from __future__ import annotations

import base64
import io
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache
from html import escape
from typing import Any

import matplotlib
from matplotlib import font_manager
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

PALETTE = ("#b4232a", "#0b5cad", "#1a7f37", "#9a6700", "#6f42c1")


@dataclass(frozen=True)
class Series:
    label: str  # already in the reader's language
    values: Sequence[int]


FONTS = ["Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei", "DejaVu Sans"]
"""How the labels are measured and named in the SVG; the reader's browser draws them."""


def line_chart(
    title: str,
    days: Sequence[date],
    series: Sequence[Series],
    *,
    unit: str = "",
    width_in: float = 7.5,
    height_in: float = 3.2,
) -> str:
    """A ``data:image/svg+xml`` URI of one line per series over ``days``, for an ``<img>``."""
    with warnings.catch_warnings(), matplotlib.rc_context(_rc()):  # type: ignore[arg-type]
        warnings.simplefilter("ignore", UserWarning)  # a label's glyph absent from the server
        svg = _draw(days, series, unit, width_in, height_in)
    svg = svg[svg.index("<svg") :]
    svg = re.sub(r"(<svg[^>]*>)", rf"\1<title>{escape(title)}</title>", svg, count=1)
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


@cache
def _rc() -> dict[str, Any]:
    """Only fonts this server has (matplotlib logs every family it cannot find)."""
    installed = {f.name for f in font_manager.fontManager.ttflist}
    fonts = [f for f in FONTS if f in installed] or ["DejaVu Sans"]
    return {"svg.fonttype": "none", "svg.hashsalt": "jifen", "font.family": fonts}


def _draw(
    days: Sequence[date], series: Sequence[Series], unit: str, width_in: float, height_in: float
) -> str:
    fig = Figure(figsize=(width_in, height_in), dpi=96)
    ax = fig.add_subplot()
    for i, s in enumerate(series):
        x: Any = list(days)
        ax.plot(x, list(s.values), label=s.label, color=PALETTE[i % len(PALETTE)], lw=2)
    ax.set_ylabel(unit)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{int(v):,}"))
    ax.grid(True, alpha=0.25)
    ax.spines[["top", "right"]].set_visible(False)
    if len(series) > 1:
        ax.legend(frameon=False, loc="upper left", fontsize=9)
    fig.autofmt_xdate()
    fig.tight_layout()
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None})
    return buffer.getvalue()
