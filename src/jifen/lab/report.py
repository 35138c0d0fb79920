"""The lab's imperative shell: turn a :class:`LabResult` into files a person can open.

One run writes, into one directory:

- ``summary.json``: parameters, summary and per-step table, exactly as the simulator returned
  them (the machine-readable record; pretty, UTF-8, sorted keys, so it diffs well);
- one PNG per :class:`Chart`, drawn with matplotlib's object API (``Figure``, Agg) so that no
  global pyplot state or GUI backend is touched;
- ``report.html``: a single self-contained page (inline CSS, no script, no network) with the
  explanation in zh-CN and en, the parameters, the summary, the charts, the table, and a warning
  that this is a simulation of a scheme Jifen refuses to run, with the legal basis.

Chinese in PNGs needs a CJK font. If matplotlib finds one, titles are bilingual; if not (common on
servers), the PNG text is English only and the Chinese lives in the HTML, so that the charts never
show empty boxes or flood the log with missing-glyph warnings.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
from matplotlib import font_manager
from matplotlib.figure import Figure

from jifen.lab._result import Chart, LabResult
from jifen.lab.errors import InvalidChart

__all__ = ["ReportFiles", "cjk_font", "write_report"]

TABLE_HEAD_ROWS = 12  # a long per-step table shows its first and last rows only
TABLE_TAIL_ROWS = 8

_CJK_FONTS = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "Sarasa Gothic SC",
    "AR PL UMing CN",
    "AR PL UKai CN",
    "Droid Sans Fallback",
    "SimHei",
    "Microsoft YaHei",
    "PingFang SC",
    "Heiti SC",
    "Songti SC",
)
_CJK = re.compile("[\u2e80-\u9fff\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef]+")


@dataclass(frozen=True)
class ReportFiles:
    """Where ``write_report`` put things (the CLI prints these; tests open them)."""

    json_path: Path
    pngs: list[Path]
    html_path: Path


@dataclass(frozen=True)
class _Basis:
    rule: str  # row in compliance.md
    zh: str
    en: str


_FUND_1 = _Basis(
    "FUND-1",
    "最高人民法院《关于审理非法集资刑事案件具体应用法律若干问题的解释》（2022 年修正，2022-03-01"
    "施行）第一条：未经许可、公开宣传、承诺还本付息或给付回报、向社会不特定对象吸收资金，"
    "即为非法吸收公众存款。",
    "Supreme People's Court interpretation on illegal fund-raising cases (2022 revision, in force "
    "2022-03-01), art. 1: taking money without a licence, with public promotion, promising "
    "repayment or returns, from the public at large, is illegally taking public deposits.",
)
_FUND_2 = _Basis(
    "FUND-2",
    "《防范和处置非法集资条例》（国务院令第 737 号）第二条：许诺还本付息或者给予其他投资回报。",
    "Regulation on Preventing and Disposing of Illegal Fund-raising (State Council Decree 737), "
    "art. 2: promising repayment of principal with interest or other investment returns.",
)
_FUND_3 = _Basis(
    "FUND-3",
    "同一司法解释：吸收资金 100 万元以上、或对象 150 人以上、或直接经济损失 50 万元以上，"
    "应当追究刑事责任。",
    "Same interpretation: ¥1,000,000 or more taken, or 150 or more people, or ¥500,000 or more "
    "in direct losses, is a criminal case.",
)
_FUND_4 = _Basis(
    "FUND-4",
    "同一司法解释第二条第（八）项：以“虚拟币交易”等方式非法吸收资金；"
    "银发〔2021〕237 号：法定货币与虚拟货币兑换业务属于非法金融活动。",
    "Same interpretation, art. 2(8): taking money through 'virtual-currency trading'; PBoC and "
    "others, 银发〔2021〕237号: exchanging fiat money for virtual currency is an illegal "
    "financial activity.",
)
_FUND_5 = _Basis(
    "FUND-5",
    "《防范和处置非法集资条例》第二十五条：因参与非法集资受到的损失，由集资参与人自行承担。",
    "Same regulation, art. 25: participants bear their own losses from illegal fund-raising.",
)

_SCHEMES: Mapping[str, Mapping[str, Any]] = {
    "nfg": {
        "title_zh": "NFG 合成 + 交易所出入金",
        "title_en": "NFG synthesis on an exchange",
        "why_zh": "数字通证与人民币相互买卖，且持有人的“收益”只能来自后来者买入新币的钱："
        "这是以虚拟币交易方式进行的非法集资。Jifen 对任何通证模块、出入金或积分↔通证兑换"
        "一律拒绝（FUND-4，零容忍）。",
        "why_en": "A token is bought and sold for yuan, and holders' 'returns' can only come from "
        "the money later entrants pay for new tokens: illegal fund-raising through virtual-"
        "currency trading. Jifen blocks any token module, on/off-ramp or points↔token swap "
        "(FUND-4, zero tolerance).",
        "basis": (_FUND_4, _FUND_1, _FUND_2, _FUND_3, _FUND_5),
    },
    "appreciation": {
        "title_zh": "消费增值积分（积分单边上涨）",
        "title_en": "Consumption-appreciation points",
        "why_zh": "积分价格 = 盈利池 ÷ 流通积分、可兑现、封顶出局：这是承诺投资回报，"
        "而付给早期会员的钱来自后来会员的消费。Jifen 没有任何把积分变成现金的代码路径（FUND-2）。",
        "why_en": "A point price of pool ÷ points in circulation, cash-out and forced exit at a "
        "multiple of spend are a promise of investment returns, paid to early members out of "
        "later members' orders. Jifen has no code path that turns points into cash (FUND-2).",
        "basis": (_FUND_2, _FUND_1, _FUND_3, _FUND_5),
    },
}


@cache
def cjk_font() -> str | None:
    """The name of an installed font that matplotlib can use for Chinese, or None.

    Cached: matplotlib's font list does not change while the process runs.
    """
    installed = {entry.name for entry in font_manager.fontManager.ttflist}
    return next((name for name in _CJK_FONTS if name in installed), None)


def _latin(text: str, fallback: str = "") -> str:
    """Drop CJK characters (for PNGs without a CJK font): '周期 cycle' -> 'cycle'."""
    stripped = " ".join(_CJK.sub(" ", text).split()).strip(" /·|:-")
    return stripped or fallback


def _draw(chart: Chart, path: Path) -> None:
    font = cjk_font()
    families = ["DejaVu Sans", font] if font else ["DejaVu Sans"]

    def text(value: str, fallback: str = "") -> str:
        return value if font else _latin(value, fallback)

    title = f"{chart.title_zh}\n{chart.title_en}" if font else chart.title_en
    figure = Figure(figsize=(8, 4.5), dpi=100, layout="constrained")
    axes = figure.add_subplot()
    any_positive = False
    for n, (label, points) in enumerate(chart.series.items()):
        xs = [x for x, _ in points]
        ys = [y for _, y in points]
        any_positive = any_positive or any(y > 0 for y in ys)
        legend = text(label, f"series {n + 1}")
        if chart.kind == "bar":
            axes.bar(xs, ys, label=legend, alpha=0.8 if n == 0 else 0.5)
        elif chart.kind == "step":
            axes.step(xs, ys, where="post", label=legend)
        else:
            axes.plot(xs, ys, label=legend, marker="." if len(xs) <= 60 else None)
    if chart.log_y and any_positive:
        axes.set_yscale("log")
    axes.set_title(title, fontfamily=families)
    axes.set_xlabel(text(chart.x_label), fontfamily=families)
    axes.set_ylabel(text(chart.y_label), fontfamily=families)
    axes.grid(True, which="major", alpha=0.3)
    if chart.series:
        axes.legend(prop=font_manager.FontProperties(family=families))
    figure.savefig(path, format="png", metadata={"Software": None})


def _json_default(value: object) -> str:
    """Exact numbers that are not JSON numbers are written as decimal or fraction strings."""
    if isinstance(value, Decimal | Fraction | Path):
        return str(value)
    raise TypeError(f"not JSON-able: {type(value).__name__}")


def _dumps(value: object, indent: int | None = 2) -> str:
    return json.dumps(
        value, indent=indent, ensure_ascii=False, sort_keys=True, default=_json_default
    )


def _cell(value: object) -> str:
    """One table cell as text; autoescaping in the template does the HTML part."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "✔" if value else ""
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, str):
        return value
    if isinstance(value, float | Decimal | Fraction):
        return str(value)
    return _dumps(value, indent=None)


def _rows(mapping: Mapping[str, Any]) -> list[tuple[str, str]]:
    return [(key, _cell(value)) for key, value in mapping.items()]


def _table(table: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    columns: list[str] = []
    for row in table:
        columns.extend(key for key in row if key not in columns)
    cells = [[_cell(row.get(column)) for column in columns] for row in table]
    if len(cells) <= TABLE_HEAD_ROWS + TABLE_TAIL_ROWS:
        return {"columns": columns, "head": cells, "omitted": 0, "tail": []}
    return {
        "columns": columns,
        "head": cells[:TABLE_HEAD_ROWS],
        "omitted": len(cells) - TABLE_HEAD_ROWS - TABLE_TAIL_ROWS,
        "tail": cells[-TABLE_TAIL_ROWS:],
    }


def _paragraphs(text: str) -> list[str]:
    return [" ".join(part.split()) for part in text.split("\n\n") if part.strip()]


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("jifen.lab", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_html(result: LabResult, png_names: Sequence[str]) -> str:
    """The report page as a string; ``png_names`` are the chart files, relative to the page."""
    scheme = _SCHEMES[result.scheme]
    return (
        _environment()
        .get_template("report.html.j2")
        .render(
            result=result,
            scheme=scheme,
            explanation_zh=_paragraphs(result.explanation_zh),
            explanation_en=_paragraphs(result.explanation_en),
            parameters=_rows(result.parameters),
            summary=_rows(result.summary),
            charts=[
                {"src": name, "title_zh": chart.title_zh, "title_en": chart.title_en}
                for chart, name in zip(result.charts, png_names, strict=True)
            ],
            table=_table(result.table),
        )
    )


def write_report(result: LabResult, out_dir: Path) -> ReportFiles:
    """Write ``summary.json``, one PNG per chart and ``report.html`` into ``out_dir``.

    Files of the same name are overwritten, so rerunning a command refreshes its report.
    """
    names = [chart.name for chart in result.charts]
    if len(set(names)) != len(names) or any(not re.fullmatch(r"[\w-]+", n) for n in names):
        raise InvalidChart(f"chart names must be unique file stems, got {names}")
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path = out_dir / "summary.json"
    record = {
        "scheme": result.scheme,
        "mode": result.mode,
        "parameters": dict(result.parameters),
        "summary": dict(result.summary),
        "table": [dict(row) for row in result.table],
    }
    json_path.write_text(_dumps(record) + "\n", encoding="utf-8")
    pngs = []
    for chart in result.charts:
        path = out_dir / f"{chart.name}.png"
        _draw(chart, path)
        pngs.append(path)
    html_path = out_dir / "report.html"
    html_path.write_text(render_html(result, [p.name for p in pngs]), encoding="utf-8")
    return ReportFiles(json_path=json_path, pngs=pngs, html_path=html_path)
