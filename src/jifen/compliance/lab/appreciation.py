"""The "consumption appreciation" (消费增值) scheme simulator: the public face.

Import from here; the ``appreciation_*`` modules behind it can be rearranged freely.

- :mod:`appreciation_core`: the mechanics of schemes.md §A, one exact event at a time (order,
  sell, financing injection, forced-exit sweep) over frozen values.
- :func:`replay`: the pitch's worked example (one ¥1,000 order after another, each by a new
  member), in 50-digit decimals: the price after each order and the first forced exit.
- :func:`simulate`: a realistic population (logistic growth, then a plateau) in integers, with
  payouts traced back to the join months whose orders funded them.

Example::

    from jifen.compliance.lab.appreciation import AppreciationParams, replay

    result = replay(AppreciationParams(exit_multiple_bp=12000), orders=1200, order_amount=1000)
    result.summary["first_forced_exit"]  # {'order': 1137, 'member': 1, ...}
"""

from jifen.compliance.lab.appreciation_core import (
    BP,
    AppreciationParams,
    AppreciationParamsError,
    Book,
    ForcedExit,
    Holding,
    forced_exit_sweep,
    inject,
    opening_book,
    place_order,
    reaches_exit,
    sell,
)
from jifen.compliance.lab.appreciation_findings import findings, simulate
from jifen.compliance.lab.appreciation_population import (
    PopulationParams,
    PopulationRun,
    ProgressCallback,
    run_population,
)
from jifen.compliance.lab.appreciation_replay import MAX_REPLAY_ORDERS, replay

__all__ = [
    "BP",
    "MAX_REPLAY_ORDERS",
    "AppreciationParams",
    "AppreciationParamsError",
    "Book",
    "ForcedExit",
    "Holding",
    "PopulationParams",
    "PopulationRun",
    "ProgressCallback",
    "findings",
    "forced_exit_sweep",
    "inject",
    "opening_book",
    "place_order",
    "reaches_exit",
    "replay",
    "run_population",
    "sell",
    "simulate",
]
