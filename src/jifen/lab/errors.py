"""The scheme lab's refusals, each with a stable code.

The CLI prints them as ``error[code]: message`` (exit 2) through :func:`jifen.cli.main`, like
every other Jifen refusal; the message is for people and may change, the code never does.
"""

from __future__ import annotations

from jifen.errors import JifenError

__all__ = ["InvalidChart", "InvalidEvent", "InvalidParameter", "LabError"]


class LabError(JifenError):
    """Any refusal of the scheme lab. Nothing was simulated and nothing was written."""

    code = "lab.error"


class InvalidParameter(LabError):
    """A parameter the scheme's arithmetic cannot run with, or a run longer than the lab's bounds
    (``members``, ``days``, ``orders``, ``cycles``): refused, never silently clamped."""

    code = "lab.invalid_parameter"


class InvalidEvent(LabError):
    """A single event the scheme's mechanics cannot apply: an order of nothing, a sale of more
    points than the member holds, a negative injection."""

    code = "lab.invalid_event"


class InvalidChart(LabError):
    """A result whose charts cannot be written: chart names must be unique file stems."""

    code = "lab.invalid_chart"
