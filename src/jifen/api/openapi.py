"""The OpenAPI document tells the truth about errors: one pass over what FastAPI generates.

FastAPI documents a 422 ``HTTPValidationError`` as ``application/json`` and whatever a route
declares; the API answers every refusal as ``application/problem+json`` with a stable ``code``.
``document_errors`` therefore *replaces* every operation's 4xx/5xx responses with exactly the
statuses it can answer, each a ``Problem``:

- an operation that needs credentials: 401 (with ``WWW-Authenticate``), 403 (wrong role), 429
  (too many failed authentications, with ``Retry-After``);
- a write (it takes an ``Idempotency-Key``): 400 without a valid key, 409 when the key was used
  for another request; the header is documented as required, with its pattern;
- a path parameter naming a thing: 404; a body or parameters: 422; a body: 413;
- what the services refuse beyond that (``BUSINESS_STATUSES``: conflicts, unknown members...);
- 503 when the store does not answer, on every operation that reads it.

So error statuses are declared here, centrally, not with ``responses=`` on routes (those are
replaced). Every response documents ``X-Request-Id``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from jifen.api.problems import PROBLEM_MEDIA_TYPE, TITLES
from jifen.api.schemas import Problem
from jifen.ledger.model import KEY_PATTERN

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
PROBLEM_REF = "#/components/schemas/Problem"
STORELESS = frozenset({("get", "/healthz"), ("get", "/v1/public/rules/schema")})
"""Operations that never touch the store, so never answer 503."""
BUSINESS_STATUSES: dict[tuple[str, str], frozenset[int]] = {
    ("get", "/v1/public/rules/current"): frozenset({409}),  # rules.none_in_force
    ("post", "/v1/rules/versions/{number}/publish"): frozenset({409}),  # rules.* gates
    ("post", "/v1/merchants"): frozenset({409}),  # merchant.exists
    ("post", "/v1/orders"): frozenset({404, 409}),  # member.not_found; rules.none_in_force
    ("post", "/v1/orders/{order_ref}/refunds"): frozenset({409}),  # refund.exceeds_order
    ("post", "/v1/orders/{order_ref}/cancel"): frozenset({409}),  # order.not_cancellable
    ("post", "/v1/redemptions"): frozenset({409}),  # code used, points short, no rules
    ("get", "/readyz"): frozenset({503}),  # store.unavailable, store.not_ready
    # the money path: payment.not_configured (409) wherever the provider is needed
    ("post", "/v1/providers/{provider}/notify"): frozenset({401, 409}),  # not verified; state
    ("post", "/v1/payments"): frozenset({404, 409}),  # member; no account, order, provider
    ("post", "/v1/payments/{out_trade_no}/refunds"): frozenset({409}),  # not paid, in progress
    ("post", "/v1/payments/{out_trade_no}/fulfilment"): frozenset({409}),
    ("post", "/v1/split-receivers"): frozenset({409}),  # no provider account or provider
    ("post", "/v1/split-plans"): frozenset({409}),  # no provider account
    ("get", "/v1/split-plans/current"): frozenset({404}),  # none filed yet
    ("put", "/v1/operator/merchants/{merchant_id}/provider-account"): frozenset({409}),
    # referral payouts (docs/referrals.md)
    ("get", "/v1/me/payee"): frozenset({404}),  # referral.payee_not_found
    ("post", "/v1/referral-payouts/run"): frozenset({409, 422}),  # no provider; not offered
    # operator tools (docs/operator-tools.md)
    ("post", "/v1/merchants/{merchant_id}/keys/{key_id}/rotate"): frozenset({409}),  # revoked
    ("post", "/v1/merchant/keys/{key_id}/rotate"): frozenset({409}),  # key.revoked
    ("post", "/v1/merchant/keys"): frozenset({404}),  # merchant.store_not_found
    ("post", "/v1/redemptions/{redemption_id}/void"): frozenset({409}),  # not today, undone
    ("post", "/v1/redemptions/{redemption_id}/reversal"): frozenset({409}),  # already undone
    ("post", "/v1/me/referral/bind"): frozenset({404, 409}),  # no such promoter; bound already
    # proof of liabilities (docs/transparency.md)
    ("get", "/v1/public/checkpoints/latest"): frozenset({404}),  # checkpoint.not_found
    ("get", "/v1/me/liability-proof"): frozenset({404}),  # proof.not_found, checkpoint.not_found
    ("post", "/v1/checkpoints"): frozenset({409}),  # checkpoint.totals_differ
}
"""Statuses the services answer beyond the ones the rules above give every operation."""
DESCRIPTIONS = {
    400: "no valid Idempotency-Key (idempotency.key_required)",
    401: "no credential, or not a valid one (auth.required, auth.invalid_token)",
    403: "the caller's role may not do this (auth.forbidden, or the service's own refusal)",
    404: "no such thing, or not the caller's (the answer is the same)",
    409: "a conflict: the key or the business identity was used for another request, or the "
    "state forbids it",
    413: "the request body exceeds the limit (request.too_large)",
    422: "an invalid request (request.invalid, with errors) or a business rule refusing it",
    429: "too many failed authentications from this address (auth.rate_limited)",
    503: "the store does not answer (store.unavailable) or is not ready (store.not_ready)",
}
HEADERS: dict[str, dict[str, Any]] = {
    "X-Request-Id": {
        "description": "the request's id: the caller's X-Request-Id if valid, else a new one",
        "required": True,
        "schema": {"type": "string", "pattern": r"^[A-Za-z0-9._:-]{1,128}$"},
    },
    "WWW-Authenticate": {"required": True, "schema": {"type": "string", "enum": ["Bearer"]}},
    "Retry-After": {
        "description": "seconds to wait before retrying",
        "required": True,
        "schema": {"type": "integer", "minimum": 1},
    },
    "Idempotent-Replayed": {
        "description": "present (true) when this is the stored answer to an earlier request",
        "required": False,
        "schema": {"type": "string", "enum": ["true"]},
    },
}
CURSOR_DESCRIPTION = (
    "opaque: the next_cursor of the previous page, as the API returned it; anything else is "
    "request.invalid"
)
IDEMPOTENCY_KEY_SCHEMA = {
    "type": "string",
    "pattern": f"^{KEY_PATTERN.pattern}$",
    "description": "unique per intended operation; the same key and body replay the first answer",
}


def _header(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/headers/{name}"}


def error_statuses(method: str, path: str, operation: dict[str, Any]) -> set[int]:
    """Exactly the error statuses ``method path`` can answer (see the module docstring)."""
    parameters = operation.get("parameters", [])
    where = {p["in"] for p in parameters}
    statuses: set[int] = set(BUSINESS_STATUSES.get((method, path), ()))
    if operation.get("security"):
        statuses |= {401, 403, 429}
    if any(p["in"] == "header" and p["name"] == "Idempotency-Key" for p in parameters):
        statuses |= {400, 409}
    if "path" in where:
        statuses.add(404)
    if "requestBody" in operation:
        statuses |= {413, 422}
    if where & {"path", "query"}:
        statuses.add(422)
    if (method, path) not in STORELESS:
        statuses.add(503)
    return statuses


def _problem_response(status: int, schema_ref: str, retry_after: bool) -> dict[str, Any]:
    headers: dict[str, Any] = {"X-Request-Id": _header("X-Request-Id")}
    if status == 401:
        headers["WWW-Authenticate"] = _header("WWW-Authenticate")
    if status == 429:
        headers["Retry-After"] = _header("Retry-After")
    if status == 503 and retry_after:
        headers["Retry-After"] = {**HEADERS["Retry-After"], "required": False}
    return {
        "description": f"{TITLES.get(status, 'Error')}: {DESCRIPTIONS.get(status, '')}".rstrip(),
        "headers": headers,
        "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": schema_ref}}},
    }


def document_errors(document: dict[str, Any]) -> dict[str, Any]:
    """Rewrite ``document`` (FastAPI's OpenAPI dict) in place so that it tells the truth about
    errors and headers; returns it."""
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    if "Problem" not in schemas:
        schemas["Problem"] = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    components["headers"] = {**components.get("headers", {}), **HEADERS}
    for path, item in document.get("paths", {}).items():
        for method in METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            writes = False
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "query" and parameter["name"] == "cursor":
                    parameter["description"] = CURSOR_DESCRIPTION
                if parameter["in"] == "header" and parameter["name"] == "Idempotency-Key":
                    parameter["required"] = True  # its absence is a 400: it is required
                    parameter["schema"] = dict(IDEMPOTENCY_KEY_SCHEMA)
                    writes = True
            responses = operation.get("responses", {})
            kept: dict[str, Any] = {}
            for status, response in responses.items():
                if status.startswith(("4", "5")):
                    continue
                response.setdefault("headers", {})["X-Request-Id"] = _header("X-Request-Id")
                if writes:
                    response["headers"]["Idempotent-Replayed"] = _header("Idempotent-Replayed")
                kept[status] = response
            own_503 = responses.get("503", {}).get("content", {})
            for status in sorted(error_statuses(method, path, operation)):
                ref = PROBLEM_REF
                if status == 503 and own_503:  # an operation's own problem schema (/readyz)
                    ref = next(iter(own_503.values()))["schema"]["$ref"]
                kept[str(status)] = _problem_response(status, ref, retry_after=not own_503)
            operation["responses"] = kept
    _drop_unreferenced(document, ("HTTPValidationError", "ValidationError"))
    return document


def _drop_unreferenced(document: dict[str, Any], names: tuple[str, ...]) -> None:
    schemas = document["components"]["schemas"]
    for name in names:
        others = {k: v for k, v in schemas.items() if k != name}
        text = repr(document.get("paths")) + repr(others)
        if f"#/components/schemas/{name}'" not in text:
            schemas.pop(name, None)


def install(app: FastAPI) -> None:
    """Serve the corrected document: FastAPI regenerates its document when routes change, so
    each newly generated one is corrected once."""
    generate: Callable[[], dict[str, Any]] = app.openapi
    corrected: list[dict[str, Any]] = []  # the last document corrected (held, so never reused)

    def openapi() -> dict[str, Any]:
        document = generate()
        if not corrected or corrected[0] is not document:
            document_errors(document)
            corrected[:] = [document]
        return document

    app.openapi = openapi  # type: ignore[method-assign]
