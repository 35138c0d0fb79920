"""The "consumption appreciation" (消费增值) scheme simulator: the public face.

Import from here; the underscore modules behind it can be rearranged freely.

- The mechanics of schemes.md §A, one exact event at a time (:func:`place_order`, :func:`sell`,
  :func:`inject`, :func:`forced_exit_sweep`) over frozen values, in Fractions or Decimals
  (``_core``).
- :func:`replay`: the pitch's worked example (one ¥1,000 order after another, each by a new
  member), in 50-digit decimals: the price after each order and the first forced exit
  (``_replay``).
- :func:`run_population`: a realistic population (logistic growth, then a plateau;
  :class:`PopulationParams` in ``_population``) in integers (fen, :data:`MICRO` micro-points per
  point, prices scaled by :data:`Q`), with payouts traced back to the join months
  (:data:`COHORT_DAYS`) whose orders funded them. The engine (``_engine``) applies the same
  mechanics as the exact functions, rounding down; a differential test holds the two together
  event by event.
- :func:`findings` turns a run into a report; :func:`simulate` is both (``_findings``).

Every refusal is a :class:`jifen.lab.errors.LabError`: ``InvalidParameter`` for parameters,
``InvalidEvent`` for an event the mechanics cannot apply.

Example::

    from jifen.lab.appreciation import AppreciationParams, replay

    result = replay(AppreciationParams(exit_multiple_bp=12000), orders=1200, order_amount=1000)
    result.summary["first_forced_exit"]  # {'order': 1137, 'member': 1, ...}
"""

from jifen.lab.appreciation._core import (
    BP,
    AppreciationParams,
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
from jifen.lab.appreciation._engine import run_population
from jifen.lab.appreciation._findings import findings, simulate
from jifen.lab.appreciation._population import (
    COHORT_DAYS,
    MICRO,
    CohortStats,
    DayStats,
    PopulationParams,
    PopulationRun,
    ProgressCallback,
    Q,
)
from jifen.lab.appreciation._replay import MAX_REPLAY_ORDERS, replay

__all__ = [
    "BP",
    "COHORT_DAYS",
    "MAX_REPLAY_ORDERS",
    "MICRO",
    "AppreciationParams",
    "Book",
    "CohortStats",
    "DayStats",
    "ForcedExit",
    "Holding",
    "PopulationParams",
    "PopulationRun",
    "ProgressCallback",
    "Q",
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
