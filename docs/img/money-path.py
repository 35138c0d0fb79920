"""Draws docs/img/money-path.png: where the money of one order goes (docs/payments.md). The
amounts are computed by Jifen's own code (the default rules, the issue charge, the split plan's
allocation), so the picture cannot drift from it: ``python docs/img/money-path.py``."""

from __future__ import annotations

from pathlib import Path

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from jifen.alliance.orders import issue_charge_fen
from jifen.payments import PlanPart, SplitPlan, allocate
from jifen.rules import RuleDocument

ORDER_FEN = 10_000  # ¥100.00
PROVIDER_FEE_BP = 60  # WeChat Pay's common 0.60 %, taken by the provider at payment
PARTNER_BP = 500  # the merchant's plan: 5 % to a partner, at payment

PEOPLE, PROVIDER, PLATFORM = "#fdf1d6", "#dbe9f6", "#e3f2d9"
MERCHANT, OUTSIDE = "#f6dde0", "#eeeeee"
MONEY, INSTRUCTION, REFUND = "#333333", "#2e7d32", "#c62828"


def amounts() -> dict[str, int]:
    doc = RuleDocument()
    points = ORDER_FEN * doc.earn.points_per_yuan // 100
    charge = issue_charge_fen(points, doc.issue_price.fen_per_1000_points)
    reserve = points * doc.point_value.fen_per_point
    plan = SplitPlan(parts=(PlanPart(receiver="partner", ratio_bp=PARTNER_BP),))
    allocation = allocate(ORDER_FEN, plan, reserve_fen=reserve, fee_fen=charge - reserve)
    fen = {p.receiver: p.fen for p in allocation.parts}
    provider_fee = (ORDER_FEN * PROVIDER_FEE_BP + 5_000) // 10_000  # round half up, as WeChat
    return {
        "points": points,
        "reserve": fen["reserve"],
        "fee": fen["operator_fee"],
        "partner": fen["partner"],
        "provider_fee": provider_fee,
        "merchant": allocation.merchant_fen - provider_fee,
    }


def box(ax: Axes, x: float, y: float, w: float, h: float, title: str, sub: str, face: str) -> None:
    ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.03", facecolor=face,
                                edgecolor="#555"))  # fmt: skip
    ax.text(x + w / 2, y + h / 2 + 0.13, title, ha="center", va="center", fontsize=9.5,
            fontweight="bold")  # fmt: skip
    ax.text(x + w / 2, y + h / 2 - 0.18, sub, ha="center", va="center", fontsize=8)


def arrow(
    ax: Axes,
    start: tuple[float, float],
    end: tuple[float, float],
    label: str = "",
    *,
    colour: str = MONEY,
    style: str = "-",
    bend: float = 0.0,
    at: tuple[float, float] | None = None,
) -> None:
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=13, color=colour,
                                 linestyle=style, linewidth=1.4,
                                 connectionstyle=f"arc3,rad={bend}"))  # fmt: skip
    if label:
        x, y = at or ((start[0] + end[0]) / 2, (start[1] + end[1]) / 2 + 0.15)
        ax.text(x, y, label, ha="center", va="bottom", fontsize=7.8, color=colour,
                bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.8})  # fmt: skip


def payment(ax: Axes, a: dict[str, int]) -> None:
    ax.set_xlim(0, 14.0)
    ax.set_ylim(0.05, 8.9)
    ax.axis("off")
    ax.text(0.1, 8.65, f"One order of ¥{ORDER_FEN / 100:.2f} paid through the provider, earning "
            f"{a['points']} points under the default rules (amounts in fen)", fontsize=11,
            fontweight="bold")  # fmt: skip
    box(ax, 3.1, 7.35, 7.8, 0.8, "Jifen, the platform",
        "sends instructions, keeps records, reconciles; never holds the money (no secondary "
        "clearing)", PLATFORM)  # fmt: skip
    ax.add_patch(FancyBboxPatch((2.75, 0.7), 8.55, 6.05, boxstyle="round,pad=0.05",
                                facecolor="#f7fbff", edgecolor="#8aa", linestyle="--"))  # fmt: skip
    ax.text(5.75, 6.45, "at the licensed provider (WeChat Pay, Alipay, …)", fontsize=8.5,
            style="italic", color="#456")  # fmt: skip
    box(ax, 0.2, 3.2, 2.1, 1.1, "customer (member)", f"pays {ORDER_FEN:,}", PEOPLE)
    box(ax, 3.1, 0.95, 2.4, 5.3, "merchant's account", f"{ORDER_FEN:,} paid, frozen", MERCHANT)
    arrow(ax, (2.3, 3.95), (3.1, 3.95), "pays", at=(2.7, 4.02))
    arrow(ax, (3.1, 3.5), (2.3, 3.5), "", colour=REFUND, style="--")
    ax.text(2.7, 3.4, "② refund", fontsize=7.8, color=REFUND, ha="center", va="top")
    left, width = 7.8, 3.1
    rows = [
        ("provider's processing fee", f"{a['provider_fee']} = 0.60 %, kept on refunds",
         OUTSIDE, "fee, at payment", ""),
        ("points reserve (receiver)", f"{a['reserve']} = {a['points']} points × 1 fen",
         PROVIDER, "split: issue charge, its value", f"① return {a['reserve']}"),
        ("operator's fee (receiver)", f"{a['fee']} = issue price {a['reserve'] + a['fee']} − value",
         PROVIDER, "split: issue charge, its margin", ""),
        ("plan partner (receiver)", f"{a['partner']} = 5 % of the order",
         PROVIDER, "split: the merchant's plan", f"① return {a['partner']}"),
        ("merchant's available balance", f"{a['merchant']:,}: the remainder",
         MERCHANT, "unfreeze the remainder", ""),
    ]  # fmt: skip
    for i, (title, sub, face, label, back) in enumerate(rows):
        y = 5.35 - i * 1.1
        centre = y + 0.4
        box(ax, left, y, width, 0.8, title, sub, face)
        arrow(ax, (5.5, centre + 0.08), (left, centre + 0.08), label, at=(6.65, centre + 0.14))
        if back:
            arrow(ax, (left, centre - 0.2), (5.5, centre - 0.2), "", colour=REFUND, style="--")
            ax.text(6.65, centre - 0.28, back, fontsize=7.8, color=REFUND, ha="center", va="top")
    arrow(ax, (4.3, 7.35), (4.3, 6.25), "", colour=INSTRUCTION, style=":")
    ax.text(4.45, 7.07, "instructions: pay (held), split, unfreeze, return, refund, payout",
            fontsize=7.8, color=INSTRUCTION, va="center")  # fmt: skip
    box(ax, 11.75, 4.25, 2.1, 0.8, "other merchants", "who accepted points", MERCHANT)
    arrow(ax, (left + width, 4.65), (11.75, 4.65), "payouts", at=(11.33, 4.72))
    ax.text(12.8, 4.05, "T+1: each merchant's\ncumulative net,\nby instruction", ha="center",
            va="top", fontsize=7.5)  # fmt: skip
    legend = [
        (MONEY, "-", "money, moved by the provider"),
        (INSTRUCTION, ":", "Jifen's instructions"),
        (REFUND, "--", "a refund after the split: ① the returns first, ② then the refund"),
    ]
    for x, (colour, style, text) in zip((0.2, 3.9, 6.9), legend, strict=True):
        ax.plot([x, x + 0.5], [0.3, 0.3], color=colour, linestyle=style, linewidth=1.6)
        ax.text(x + 0.6, 0.3, text, fontsize=7.8, va="center")


def draw(path: Path) -> None:
    fig = Figure(figsize=(13.5, 8))
    ax = fig.add_subplot()
    payment(ax, amounts())
    fig.savefig(path, dpi=110, bbox_inches="tight")


if __name__ == "__main__":
    draw(Path(__file__).with_name("money-path.png"))
