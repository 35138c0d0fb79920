"""What a lab run produces, independent of how it is shown: a JSON-able summary, chart series,
and a plain explanation in zh-CN and en. The report writer turns it into JSON, PNGs and HTML.

Exact figures live in ``summary`` (decimal strings where they are not integers); chart series
are floats, for drawing only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal


@dataclass(frozen=True)
class Chart:
    name: str  # file stem: price_path -> price_path.png
    title_zh: str
    title_en: str
    x_label: str
    y_label: str
    series: Mapping[str, Sequence[tuple[float, float]]]  # legend label -> (x, y) points
    kind: Literal["line", "bar", "step"] = "line"
    log_y: bool = False


@dataclass(frozen=True)
class LabResult:
    scheme: Literal["appreciation", "nfg"]
    mode: str  # "replay" or "population" (appreciation), "cycles" (nfg)
    parameters: Mapping[str, Any]  # JSON-able: what the run was asked
    summary: Mapping[str, Any]  # JSON-able: what it found (the --json output)
    charts: Sequence[Chart] = field(default_factory=tuple)
    explanation_zh: str = ""
    explanation_en: str = ""
    table: Sequence[Mapping[str, Any]] = field(default_factory=tuple)  # per-step rows, if any
