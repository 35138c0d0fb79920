"""The scheme lab (方案实验室): exact simulations of schemes Jifen refuses to run, and reports.

- :mod:`jifen.lab.appreciation`: the "consumption appreciation" (消费增值) points scheme
  (schemes.md §A): a replay of the pitch and a population run.
- :mod:`jifen.lab.nfg`: the "NFG" synthesis scheme (schemes.md §B), cycle by cycle.
- :mod:`jifen.lab.report`: the shell that writes a :class:`LabResult` as JSON, PNGs and HTML
  (imported on its own, so that matplotlib loads only when a report is drawn).
- :mod:`jifen.lab.cli`: the ``jifen lab`` command group.

The boundary, on purpose: the lab imports nothing of the rest of Jifen except
:mod:`jifen.errors` (its errors are ``JifenError`` subclasses, so the CLI shows them like every
other refusal), and the rest of Jifen imports nothing of the lab except ``jifen.cli``
registering :data:`jifen.lab.cli.lab_app`. The lab can therefore never move a point or a yuan,
and the ledger, rules and stores can change without it. Callers import from the packages and
public modules named above; underscore modules are private.
"""

from jifen.lab._result import Chart, LabResult
from jifen.lab.errors import InvalidChart, InvalidEvent, InvalidParameter, LabError

__all__ = ["Chart", "InvalidChart", "InvalidEvent", "InvalidParameter", "LabError", "LabResult"]
