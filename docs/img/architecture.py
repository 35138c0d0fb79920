"""Draws docs/img/architecture.png from the layers contract in pyproject.toml (run it after the
contract changes: ``python docs/img/architecture.py``)."""

from __future__ import annotations

import tomllib
from pathlib import Path

from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch

ROOT = Path(__file__).parent.parent.parent
ROLE = {
    "jifen.cli": "entry point: the jifen command",
    "jifen.demo": "entry point: the demo alliance",
    "jifen.api": "entry point: HTTP (FastAPI)",
    "jifen.web": "entry point: the consoles (Jinja2 pages)",
    "jifen.jobs": "service: the daily close, the money loop",
    "jifen.funds": "service: the money path at the provider (payments, splits, refunds, payouts)",
    "jifen.alliance": "services: merchants, members, orders, redemptions",
    "jifen.settlement": "services: statements, reserve, liabilities",
    "jifen.proofs": "services: the audit export and its verification",
    "jifen.webhooks": "events: outbox (written by services), signed delivery, retries",
    "jifen.app": "kernel: context, unit of work, clock, paging, secrets, rulebook",
    "jifen.compliance": "core: the linter",
    "jifen.rules": "core: rule documents, lifecycle",
    "jifen.ledger": "ledger: planner + its store",
    "jifen.payments": "provider protocol, plans, bills",
    "jifen.referral": "core: referral rewards, income tax withheld",
    "jifen.transparency": "core: liability proofs, audit export",
    "jifen.sms": "SMS protocol, senders",
    "jifen.store": "store: engines, migrations, alliance tables",
    "jifen.errors": "JifenError",
    "jifen.i18n": "messages: zh-CN and en catalogues",
}
SHELL, CORE, KERNEL = "#dbe9f6", "#e3f2d9", "#fdf1d6"


def layers() -> list[list[str]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contract = next(c for c in config["tool"]["importlinter"]["contracts"] if c["type"] == "layers")
    return [[m.strip() for m in layer.split("|")] for layer in contract["layers"]]


def colour(module: str) -> str:
    if module in ("jifen.compliance", "jifen.rules", "jifen.errors", "jifen.i18n"):
        return CORE
    if module == "jifen.app":
        return KERNEL
    return SHELL


def draw(path: Path) -> None:
    rows = layers()
    fig = Figure(figsize=(11, 0.75 * len(rows) + 1.2))
    ax = fig.add_subplot()
    ax.set_xlim(0, 11)
    ax.set_ylim(0, len(rows) + 0.8)
    ax.axis("off")
    for i, row in enumerate(rows):
        y = len(rows) - i - 0.4
        width = 10 / len(row)
        for j, module in enumerate(row):
            x = 0.5 + j * width
            ax.add_patch(
                FancyBboxPatch(
                    (x + 0.05, y - 0.3), width - 0.1, 0.6,
                    boxstyle="round,pad=0.02", facecolor=colour(module), edgecolor="#555",
                )
            )  # fmt: skip
            ax.text(x + width / 2, y + 0.08, module, ha="center", va="center", fontsize=10,
                    fontweight="bold")  # fmt: skip
            ax.text(x + width / 2, y - 0.16, ROLE.get(module, ""), ha="center", va="center",
                    fontsize=7.5)  # fmt: skip
    ax.annotate("", xy=(10.75, 0.3), xytext=(10.75, len(rows) + 0.3),
                arrowprops={"arrowstyle": "->", "color": "#555"})  # fmt: skip
    ax.text(10.85, len(rows) / 2 + 0.3, "may import", rotation=270, va="center", fontsize=8)
    ax.text(0.5, len(rows) + 0.55, "jifen.lab and jifen.sandbox stand alone (they import only "
            "jifen.errors; only jifen.cli imports them). Core: no database, no web, no terminal.",
            fontsize=8)  # fmt: skip
    fig.savefig(path, dpi=110, bbox_inches="tight")


if __name__ == "__main__":
    draw(Path(__file__).with_name("architecture.png"))
