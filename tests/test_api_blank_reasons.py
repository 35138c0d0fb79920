"""A reason of nothing but white space (as the services' ``str.strip()`` counts it) is refused by
the schema itself, so a body the OpenAPI document calls valid is never answered request.invalid
(the fuzzer found ``{"reason": "\\u000b"}`` on a redemption's void and reversal). Rule
publication and withdrawal keep their own answer for a blank reason, rules.reason_required."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError

from jifen.api.schemas._referrals import ReferrerIn
from jifen.api.schemas._tools import LookupIn, ReasonIn

BODIES: list[tuple[type[BaseModel], dict[str, str]]] = [
    (ReasonIn, {}),
    (ReferrerIn, {"promoter_id": "m0123456789abcde"}),
    (LookupIn, {"member": "m0123456789abcde"}),
]


@pytest.mark.parametrize(("model", "rest"), BODIES, ids=[m.__name__ for m, _ in BODIES])
@pytest.mark.parametrize("blank", [" ", "\u000b", "\t\n", "\u3000", "\x1c\x1d\x1e\x1f", "\x85"])
def test_a_blank_reason_is_refused_by_the_schema(
    model: type[BaseModel], rest: dict[str, str], blank: str
) -> None:
    assert not blank.strip()
    with pytest.raises(ValidationError):
        model.model_validate({**rest, "reason": blank})
    model.model_validate({**rest, "reason": f"{blank}录入错误{blank}"})
