"""The lab's report: JSON, PNGs and one self-contained HTML page, from any LabResult; and the
``jifen lab nfg`` command that writes it."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from jifen.lab import Chart, InvalidChart, LabResult
from jifen.lab.report import TABLE_HEAD_ROWS, TABLE_TAIL_ROWS, write_report

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SCRIPT = "<script>alert('x')</script>"


def _result(rows: int = 3) -> LabResult:
    return LabResult(
        scheme="appreciation",
        mode="replay",
        parameters={"orders": 3, "order_amount_yuan": "1000.00", "note": SCRIPT},
        summary={"first_exit_at_order": 2, "final_price": "1.1200", "payouts": {"1": "960.00"}},
        charts=(
            Chart(
                name="price_path",
                title_zh="积分价格",
                title_en="Point price",
                x_label="订单 order",
                y_label="价格 price (¥)",
                series={"价格 price": [(1.0, 1.0), (2.0, 1.06), (3.0, 1.12)]},
            ),
            Chart(
                name="pool",
                title_zh="盈利池",
                title_en="Profit pool",
                x_label="order",
                y_label="¥",
                series={"pool": [(1.0, 160.0), (2.0, 320.0)], "paid out": [(1.0, 0.0), (2.0, 9.0)]},
                kind="bar",
                log_y=True,
            ),
        ),
        explanation_zh="早期会员拿到的钱来自后来会员的消费。",
        explanation_en="What early members are paid comes from later members' orders.",
        table=[{"order": n, "price": f"1.{n:04d}", "exited": n == 2} for n in range(1, rows + 1)],
    )


def test_the_json_holds_parameters_summary_and_table_exactly(tmp_path: Path) -> None:
    result = _result()
    files = write_report(result, tmp_path / "out")
    record = json.loads(files.json_path.read_text(encoding="utf-8"))
    assert files.json_path == tmp_path / "out" / "summary.json"
    assert record["summary"] == result.summary
    assert record["parameters"] == result.parameters
    assert record["table"] == [dict(row) for row in result.table]
    assert (record["scheme"], record["mode"]) == ("appreciation", "replay")
    assert SCRIPT in files.json_path.read_text(encoding="utf-8")  # JSON is data: not escaped


def test_every_chart_is_a_real_png(tmp_path: Path) -> None:
    files = write_report(_result(), tmp_path)
    assert [p.name for p in files.pngs] == ["price_path.png", "pool.png"]
    for png in files.pngs:
        data = png.read_bytes()
        assert data.startswith(PNG_MAGIC)
        assert 5_000 < len(data) < 150_000


def test_charts_draw_without_warnings_even_without_a_cjk_font(tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        write_report(_result(), tmp_path)


def test_the_page_explains_shows_every_chart_and_warns(tmp_path: Path) -> None:
    result = _result()
    html = write_report(result, tmp_path).html_path.read_text(encoding="utf-8")
    assert result.explanation_zh in html
    assert "What early members are paid comes from later members&#39; orders." in html
    for chart in result.charts:
        assert f'<img src="{chart.name}.png"' in html
        assert chart.title_zh in html and chart.title_en in html
    assert "拒绝运行" in html and "refuses to run" in html
    assert "国务院令第 737 号" in html and "FUND-2" in html
    assert "first_exit_at_order" in html and "1.1200" in html


def test_a_parameter_cannot_inject_markup(tmp_path: Path) -> None:
    html = write_report(_result(), tmp_path).html_path.read_text(encoding="utf-8")
    assert "<script" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html


def test_the_page_loads_nothing_from_the_network(tmp_path: Path) -> None:
    html = write_report(_result(), tmp_path).html_path.read_text(encoding="utf-8")
    assert not re.search(r"https?:|//[a-z]", html, re.I)
    assert "<link" not in html
    assert all(not src.startswith(("/", "http")) for src in re.findall(r'src="([^"]*)"', html))


def test_a_long_table_shows_its_first_and_last_rows(tmp_path: Path) -> None:
    rows = TABLE_HEAD_ROWS + TABLE_TAIL_ROWS + 30
    html = write_report(_result(rows), tmp_path).html_path.read_text(encoding="utf-8")
    assert "1.0001" in html and f"1.{TABLE_HEAD_ROWS:04d}" in html
    assert f"1.{TABLE_HEAD_ROWS + 1:04d}" not in html
    assert f"1.{rows:04d}" in html
    assert "30 rows omitted" in html


def test_chart_names_must_be_file_stems(tmp_path: Path) -> None:
    result = _result()
    bad = LabResult(
        scheme="nfg",
        mode="cycles",
        parameters={},
        summary={},
        charts=[Chart("../x", "甲", "a", "x", "y", {})],
    )
    with pytest.raises(InvalidChart):
        write_report(bad, tmp_path)
    write_report(result, tmp_path)  # and a rerun overwrites the same files
    assert write_report(result, tmp_path).html_path.exists()


# The command line, as a person runs it: ``python -m jifen lab …``.


def _run(*args: str) -> tuple[int, str]:
    proc = subprocess.run(
        [sys.executable, "-m", "jifen", "lab", *args], capture_output=True, text=True, timeout=120
    )
    return proc.returncode, proc.stdout


def test_lab_appreciation_writes_json_pngs_and_html(tmp_path: Path) -> None:
    code, stdout = _run("appreciation", "--orders", "1200", "--out", str(tmp_path))
    assert code == 0, stdout
    assert "1137" in stdout  # the order after which the first member is forced out
    record = json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"))
    assert record["summary"]["first_forced_exit"]["order"] == 1137
    pngs = sorted(tmp_path.glob("*.png"))
    assert pngs and all(p.read_bytes().startswith(PNG_MAGIC) for p in pngs)
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert all(p.name in html for p in pngs)


def test_lab_nfg_writes_the_whole_report(tmp_path: Path) -> None:
    code, stdout = _run("nfg", "--cycles", "12", "--out", str(tmp_path))
    assert code == 0, stdout
    record = json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"))
    assert record["scheme"] == "nfg"
    assert len(record["table"]) == 13
    assert record["table"][2]["newcomers_needed"] == 480
    for name in ("nfg_newcomers", "nfg_money", "nfg_tokens", "nfg_participants"):
        assert (tmp_path / f"{name}.png").read_bytes().startswith(PNG_MAGIC)
    assert "NFG" in (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "12,000" in stdout  # the human table


def test_lab_nfg_json_prints_the_summary(tmp_path: Path) -> None:
    code, stdout = _run(
        "nfg", "--cycles", "12", "--market-people", "3000", "--json", "--out", str(tmp_path)
    )
    assert code == 0, stdout
    summary = json.loads(stdout)
    assert summary["market_exhausted_at_cycle"] == 3
    assert summary["growth_factor_per_cycle"] == "1.2"
    assert (tmp_path / "report.html").exists()


def test_lab_nfg_refuses_a_price_with_more_than_two_decimals(tmp_path: Path) -> None:
    code, _ = _run("nfg", "--issue-price", "1000.001", "--out", str(tmp_path))
    assert code == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["appreciation", "--platform-bp", "300"], "commission_bp must equal platform_bp"),
        (["appreciation", "--population", "--members", "20000000"], "members must be 1.."),
        (
            ["appreciation", "--population", "--days", "60", "--growth-midpoint-day", "31"],
            "growth_midpoint_day must be 1..days/2",
        ),
        (["nfg", "--tokens-kept", "6"], "tokens_kept and entry_tokens must equal"),
        (["nfg", "--first-issue-tokens", "10001"], "first_issue_tokens must be a multiple"),
    ],
)
def test_parameters_the_scheme_cannot_run_with_are_one_error_line_with_a_stable_code(
    args: list[str], message: str, tmp_path: Path
) -> None:
    """Through ``jifen.cli.main``, like every Jifen refusal: exit 2, one line, nothing written."""
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "jifen", "lab", *args, "--json", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("error[lab.invalid_parameter]: "), proc.stderr
    assert message in proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert proc.stdout == "" and not out.exists()


def test_with_a_cjk_font_the_chart_titles_are_drawn_bilingual(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from jifen.lab import report

    monkeypatch.setattr(report, "cjk_font", lambda: "DejaVu Sans")  # stands in for Noto Sans SC
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # DejaVu has no CJK glyphs: matplotlib says so
        files = write_report(_result(), tmp_path)
    assert all(png.read_bytes().startswith(PNG_MAGIC) for png in files.pngs)
