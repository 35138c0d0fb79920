"""The error catalogue is the API's truth about its refusals (issue 8): ``docs/api.md`` lists
exactly the codes ``jifen.api.catalogue.API_ERRORS`` holds, with the same statuses; every Jifen
error class either has its code there (with that status) or is named below with the reason it
never reaches an HTTP answer; and a refusal outside the catalogue is answered ``internal``."""

from __future__ import annotations

import importlib
import logging
import pkgutil
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import jifen
from jifen.api.catalogue import API_ERRORS, START_UP_ERRORS
from jifen.errors import JifenError

API_DOC = Path(__file__).parent.parent / "docs" / "api.md"

NEVER_ANSWERED = {
    # code → why no HTTP answer carries it
    "alliance.error": "a base class; only its subclasses are raised",
    "ledger.error": "a base class",
    "rules.error": "a base class",
    "redemption.refused": "a base class of the redemption limits",
    "rules.invalid": "load_document (files, the CLI); the API validates the body itself",
    "rules.invalid_argument": "the pure rules core's guard against callers' bugs",
    "account.not_found": "the API onboards merchants and members before their accounts are used",
    "amount.invalid": "the API's strict schemas refuse bad amounts first (request.invalid)",
    "entry.invalid": "the flows build only valid operations",
    "entry.unbalanced": "manual entries (Python only)",
    "entry.not_found": "the API finds the redemption first (redemption.not_found)",
    "entry.not_reversible": "the API answers redemption.not_reversible / already_reversed",
    "lot.not_found": "the flows find the lot of an order before touching it",
    "lot.not_due": "the jobs release and expire only what is due",
    "balance.insufficient": "manual money entries (Python only)",
    "batch.too_large": "the API writes one operation per request",
    "idempotency.malformed_key": "ledger keys are derived by the flows, never the caller's",
    "cap.exceeded": "the flows re-quote or answer redemption.over_order_share",
    "chain.unsupported_hash": "chosen when a store is created (jifen demo --hash)",
    "demo.store_in_use": "jifen demo only",
    "init.store_in_use": "jifen init only",
    "lint.unreadable": "jifen lint only",
    "verify.checkpoint_invalid": "jifen verify --resume only",
    "verify.checkpoint_unwritable": "jifen verify --checkpoint only",
    "export.target_in_use": "jifen audit export only",
    "export.request_invalid": "jifen audit export only",
    "payment.error": "a base class",
    "funds.error": "a base class",
    "referral.error": "a base class",
    "referral.tax_method_invalid": "jifen referral config only (a store setting, no route)",
    "payment.provider_required": "jifen reconcile / jifen funds run only",
    "payment.plan_over_ratio": "allocations run when a payment is applied; a plan over the cap "
    "is cut back there, never refused to a caller (a filed plan over the cap is request.invalid)",
    "payment.plan_too_many_receivers": "a filed plan holds at most 48 parts (request.invalid)",
    "payment.bill_malformed": "only jifen reconcile reads bills (the API serves stored reports)",
    "webhook.error": "a base class",
    "checkpoint.malformed": "jifen audit check-proof reads a file; the API serves only the "
    "checkpoints it stored",
    "lab.error": "the scheme lab (jifen lab only): a base class",
    "checkpoint.signing_key_invalid": "a deployment fault: the key file (JIFEN_SIGNING_KEY)",
    "checkpoint.signature_invalid": "checking a kept checkpoint: the CLI and tools/verify_proof.py",
    "checkpoint.signature_unchecked": "checking a kept SM2 checkpoint without tongsuopy (the CLI)",
    "lab.invalid_parameter": "jifen lab only",
    "lab.invalid_event": "jifen lab only",
    "lab.invalid_chart": "jifen lab only",
    "sandbox.error": "the sandbox provider (its own server, never Jifen's API): a base class",
    "sandbox.refused": "the sandbox provider's WeChat-wire refusals, on its own server",
    "sandbox.control_invalid": "the sandbox provider's control API, on its own server",
    "sandbox.not_found": "the sandbox provider's control API, on its own server",
    "sandbox.state_invalid": "jifen sandbox-provider only",
    # the consoles (issue 13): answered as pages in the reader's language (docs/consoles.md),
    # never by the API; the member's sign-in, erasure and the SMS provider have no API route
    "web.signin_required": "a console page without a session: a redirect to the sign-in form",
    "web.signin_refused": "the consoles' sign-in forms",
    "web.csrf_refused": "the consoles' forms",
    "signin.code_invalid": "the member console's SMS sign-in",
    "signin.code_locked": "the member console's SMS sign-in",
    "signin.rate_limited": "the member console's SMS sign-in",
    "sms.not_configured": "jifen serve --sms aliyun at start-up, or the sign-in page",
    "sms.failed": "the code is sent after the sign-in page answers; a refusal is logged",
    "member.erased": "the member console's erasure (an erased member has no session)",
    "member.points_pending": "the member console's erasure form",
    "member.points_outstanding": "the member console's erasure form",
    "member.erasure_unconfirmed": "the member console's erasure form",
}


def _error_classes() -> Iterator[type[JifenError]]:
    for info in pkgutil.walk_packages(jifen.__path__, "jifen."):
        if ".migrations" not in info.name and not info.name.endswith("__main__"):
            importlib.import_module(info.name)
    pending = list(JifenError.__subclasses__())
    while pending:
        cls = pending.pop()
        pending += cls.__subclasses__()
        yield cls


def _documented() -> dict[str, str]:
    """code → HTTP column, from the table under "Every code an API caller can meet"."""
    text = API_DOC.read_text(encoding="utf-8")
    table = text.split("Every code an API caller can meet", 1)[1].split("\n## ", 1)[0]
    found: dict[str, str] = {}
    for row in table.splitlines():
        cells = [c.strip() for c in row.strip().strip("|").split("|")]
        if len(cells) < 2 or not cells[0].startswith("`"):
            continue
        codes = re.findall(r"`([a-z_.]+)`", cells[0])
        statuses = [s.strip() for s in cells[1].split(",")]
        for i, code in enumerate(codes):
            found[code] = statuses[min(i, len(statuses) - 1)]
    return found


def test_the_api_page_documents_exactly_the_catalogue() -> None:
    documented = _documented()
    answered = {code: status for code, status in documented.items() if status != "—"}
    assert answered == {code: str(status) for code, status in API_ERRORS.items()}
    assert set(documented) - set(answered) == START_UP_ERRORS


def test_every_error_class_is_catalogued_or_says_why_it_never_reaches_the_api() -> None:
    unexplained, wrong_status = [], []
    for cls in _error_classes():
        if cls.code in API_ERRORS:
            if API_ERRORS[cls.code] != cls.status:
                wrong_status.append((cls.__qualname__, cls.code, cls.status))
        elif cls.code not in NEVER_ANSWERED and cls.code not in START_UP_ERRORS:
            unexplained.append((cls.__module__, cls.__qualname__, cls.code))
    assert not unexplained, f"add these codes to the catalogue or to NEVER_ANSWERED: {unexplained}"
    assert not wrong_status
    assert not set(NEVER_ANSWERED) & set(API_ERRORS)


def test_a_refusal_outside_the_catalogue_is_answered_as_internal(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from jifen.api import create_app
    from jifen.app import open_alliance
    from jifen.ledger.errors import BatchTooLarge

    ctx = open_alliance(str(tmp_path / "c.db"), secret="catalogue-test")
    app = create_app(ctx)

    @app.get("/boom")
    def boom() -> None:
        raise BatchTooLarge("a batch holds at most 1000 operations")

    with caplog.at_level(logging.ERROR, logger="jifen.api"):
        r = TestClient(app).get("/boom")
    ctx.engine.dispose()
    assert (r.status_code, r.json()["code"]) == (500, "internal")
    assert "1000" not in r.text  # it names no internals
    assert "batch.too_large" in caplog.text
