"""Field types for what comes in over the wire.

``UtcDatetime`` is every incoming time (a payment, an effective date, the simulated clock): ISO 8601
with a zone, inside the supported years (``jifen.rules.SUPPORTED_FROM`` inclusive to
``SUPPORTED_UNTIL`` exclusive, 2000–2199 UTC), normalised to UTC. The check raises ``ValueError``
so pydantic reports it as ``request.invalid`` at the field's path: a time the calendar cannot hold
(``9999-12-31T23:59:59-14:00`` is in year 10000 once in UTC) is a refused request, never an
``OverflowError`` deep in a service or the store.

Plain ``datetime`` rather than ``AwareDatetime`` underneath, so that a time without a zone is
refused with the same bilingual message as the rest, by the one check.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, Field

from jifen.rules import FIRST_SUPPORTED_YEAR, LAST_SUPPORTED_YEAR, supported_utc

UtcDatetime = Annotated[
    datetime,
    AfterValidator(supported_utc),
    Field(
        description=f"ISO 8601, 须带时区 / with a zone; UTC {FIRST_SUPPORTED_YEAR}–"
        f"{LAST_SUPPORTED_YEAR}; 以 UTC 保存 / kept in UTC"
    ),
]
"""An incoming instant: zone required, supported years only, normalised to UTC."""

__all__ = ["UtcDatetime"]
