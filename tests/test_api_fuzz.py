"""Property-based fuzzing of every operation in the served OpenAPI document (schemathesis).

For each operation, Hypothesis generates requests from the schema (valid and invalid ones), sends
them with the credentials of the role the operation is for, and checks that the server never
answers 5xx and that every documented response matches its schema. Bounded examples per
operation, so it runs in the normal test suite.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from jifen.alliance import SimulatedClock, open_alliance
from jifen.alliance.members import enrol, issue_token
from jifen.alliance.merchants import Merchant, MerchantStatus, add_operator_key, create_merchant
from jifen.alliance.orders import record_order
from jifen.api import create_app
from jifen.rules import RuleDocument

T0 = datetime(2026, 3, 1, 2, tzinfo=UTC)
OPERATOR_KEY = "jfo_fuzz-operator-key-0123456789"
EXAMPLES_PER_OPERATION = 30


def _seeded_app(path: Path) -> tuple[FastAPI, dict[str, str]]:
    """An alliance with rules, two merchants, a member and an order, so reads find things."""
    clock = SimulatedClock(T0)
    ctx = open_alliance(f"sqlite:///{path}", secret="fuzz-secret", clock=clock)
    add_operator_key(ctx, OPERATOR_KEY, T0)
    v1 = ctx.rulebook.draft(RuleDocument(), T0)
    ctx.rulebook.publish(
        v1.number, effective_at=T0, reason="launch", now=T0, points_outstanding=False
    )
    keys = {}
    for merchant_id, category in (("a", "cafe"), ("b", "cinema")):
        _, keys[merchant_id] = create_merchant(
            ctx,
            Merchant(merchant_id, merchant_id, category, MerchantStatus.ACTIVE),
            T0,
        )
    member = enrol(ctx, "13800138000", {"terms": True, "privacy": True}, T0)
    record_order(
        ctx, "a", order_ref="o1", member_id=member.member_id, amount_fen=12_345, paid_at=T0
    )
    clock.set(T0 + timedelta(minutes=1))
    token, _ = issue_token(ctx, member.member_id, clock.now())
    return create_app(ctx), {
        "operator": OPERATOR_KEY,
        "merchant": keys["a"],
        "member": token,
        "public": "",
    }


# The schema is read from the app when the module is collected (schemathesis parametrizes the
# test by operation); the store lives in a temporary directory removed at exit.
_WORKDIR = tempfile.TemporaryDirectory(prefix="jifen-fuzz-")
APP, KEYS = _seeded_app(Path(_WORKDIR.name) / "fuzz.db")
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


def _role(case: Any) -> str:
    tags = case.operation.definition.raw.get("tags") or ["public"]
    return str(tags[0]).split()[0]


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_server_error_and_responses_match_the_schema(
    case: Any,
) -> None:
    key = KEYS[_role(case)]
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    case.call_and_validate(
        headers=headers, checks=[not_a_server_error, response_schema_conformance]
    )
