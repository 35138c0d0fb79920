"""Reading an import file, pure: CSV text → numbered rows of named cells, or what is wrong.

Rows are numbered as a spreadsheet shows them: the header is row 1, the first record row 2. A
header cell may carry the Chinese label before the English name, as Jifen's own CSV exports
write them (``商家编号 merchant_id``): the last word is the column's name. Every problem is
collected, never only the first, so one dry run lists everything to fix.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass

MAX_ROWS = 10_000
"""Most record rows one file may hold (and one transaction write): split a larger file."""


@dataclass(frozen=True)
class RowError:
    row: int  # as a spreadsheet numbers it: the header is row 1
    column: str  # "" when the problem is the row or the file itself
    code: str  # stable: import.missing_column, import.invalid_value, … (docs/operator-tools.md)
    message: str


def read_rows(
    data: bytes, required: Sequence[str], optional: Sequence[str]
) -> tuple[list[tuple[int, dict[str, str]]], list[RowError]]:
    """The file's record rows (row number, cells by column name, stripped) and its errors."""
    try:
        text = data.decode("utf-8-sig")  # a spreadsheet's UTF-8 export starts with a BOM
    except UnicodeDecodeError:
        return [], [RowError(0, "", "import.malformed", "文件须为 UTF-8 编码 / not UTF-8 text")]
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        table = [row for row in reader if any(cell.strip() for cell in row)]
    except csv.Error as exc:
        return [], [RowError(reader.line_num, "", "import.malformed", f"CSV 格式错误 / {exc}")]
    if not table:
        return [], [RowError(1, "", "import.malformed", "文件为空 / the file is empty")]
    if len(table) - 1 > MAX_ROWS:
        message = f"每个文件最多 {MAX_ROWS} 行 / at most {MAX_ROWS} rows per file: split it"
        return [], [RowError(0, "", "import.malformed", message)]
    header = [cell.strip().split()[-1].lower() if cell.strip() else "" for cell in table[0]]
    errors = [
        RowError(1, name, "import.missing_column", f"缺少列 {name} / column {name} is missing")
        for name in required
        if name not in header
    ]
    errors += [
        RowError(1, name, "import.unknown_column", f"未知列 {name} / unknown column {name!r}")
        for name in header
        if name not in (*required, *optional)
    ]
    if errors:
        return [], errors
    rows = []
    for number, cells in enumerate(table[1:], start=2):
        if len(cells) > len(header):
            errors.append(
                RowError(number, "", "import.malformed", "单元格多于列数 / more cells than columns")
            )
            continue
        padded = [*cells, *[""] * (len(header) - len(cells))]
        rows.append(
            (number, {name: cell.strip() for name, cell in zip(header, padded, strict=True)})
        )
    return rows, errors


YES = {"1", "true", "yes", "y", "是", "同意"}
NO = {"0", "false", "no", "n", "否", "不同意", ""}


def yes_no(value: str) -> bool | None:
    """A consent cell: 1/0, true/false, yes/no, 是/否 (empty is no); None if it is none of them."""
    lowered = value.lower()
    return True if lowered in YES else False if lowered in NO else None
