"""Points can never be converted to money on any path (issue 14 item 7; compliance PTS-1).

Money owed to a person — a promoter's reward (``system:referral_payable``), the tax withheld
from it (``system:tax_withheld``), payees and payout batches and lines — is a *sink*. Three
checks show no path leads from points to a sink:

1. **Static, over the API.** Every operation of the OpenAPI document is mapped to its handler,
   and the functions the handler can reach are walked (names in each function's body, resolved
   in its module, transitively through every ``jifen`` module). No operation whose request
   carries a points field (in the body, at any depth, or in the query) reaches a sink.
2. **Static, over the services.** No public function of ``jifen.alliance``, ``jifen.settlement``,
   ``jifen.funds`` or ``jifen.promoters`` that takes points reaches a sink, and the points flows
   (``alliance``, ``settlement``, ``funds``) never name a sink at all.
3. **Dynamic.** A whole alliance runs (referrals, earning, release, redemption, refund, every
   job); then no journal entry both takes points from a member and credits what is owed to a
   person, and every fen owed to a promoter came from the operator's revenue on a referred
   order's cash amount.

The walker is tested on itself: ``POST /v1/jobs/run`` must be found to reach the accrual (so the
walk does follow routes into services), and a fake route that takes points and accrues rewards
must be caught.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import textwrap
import types
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import fastapi.routing
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from pydantic import BaseModel

import jifen
from jifen.alliance.members import enrol
from jifen.alliance.merchants import Merchant, MerchantStatus, create_merchant
from jifen.alliance.orders import record_order, refund_order
from jifen.alliance.privacy import _erase_payee
from jifen.alliance.redemptions import new_code, redeem
from jifen.api import create_app
from jifen.app import Context, SimulatedClock, open_alliance
from jifen.jobs import run_jobs
from jifen.ledger import queries
from jifen.ledger.model import REFERRAL_PAYABLE, REVENUE, TAX_WITHHELD
from jifen.promoters import accrue_due, bind_referrer, list_rewards
from jifen.referral import reward_fen
from jifen.rules import ReferralRules, RuleDocument
from jifen.settlement import verify_books

T0 = datetime(2026, 6, 1, 2, tzinfo=UTC)
SINK_NAMES = frozenset(
    {
        "REFERRAL_PAYABLE",
        "TAX_WITHHELD",
        "payees",
        "referral_payout_batches",
        "referral_payout_lines",
    }
)
"""Names whose use in a function's body means it can write money owed to a person."""
OWED_TO_PERSONS = frozenset({REFERRAL_PAYABLE, TAX_WITHHELD})
SERVICE_PACKAGES = ("jifen.alliance", "jifen.settlement", "jifen.funds", "jifen.promoters")
POINTS_FLOWS = ("jifen.alliance", "jifen.settlement", "jifen.funds")
MAX_WALK = 20_000


# -- the walker -----------------------------------------------------------------------------------


def _dotted(node: ast.expr) -> list[str] | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return [node.id, *reversed(parts)]
    return None


def _tree(fn: Callable[..., Any]) -> ast.AST | None:
    try:
        return ast.parse(textwrap.dedent(inspect.getsource(fn)))
    except (OSError, TypeError, SyntaxError):
        return None


def names_in(fn: Callable[..., Any]) -> set[str]:
    """Every name and attribute a function's body uses."""
    tree = _tree(fn)
    found: set[str] = set()
    for node in ast.walk(tree) if tree else ():
        if isinstance(node, ast.Name):
            found.add(node.id)
        elif isinstance(node, ast.Attribute):
            found.add(node.attr)
    return found


def is_sink(fn: Callable[..., Any]) -> bool:
    return bool(names_in(fn) & SINK_NAMES)


def _ours(obj: object, home: str) -> bool:
    module = getattr(obj, "__module__", None) or ""
    return module.startswith("jifen.") or module == home


def callees(fn: Callable[..., Any], home: str) -> set[Callable[..., Any]]:
    """The functions (and classes' methods) of ``jifen`` (or ``home``) a function's body names,
    resolved through its module's globals, its closure and attribute chains
    (``funds.payouts.run``)."""
    tree = _tree(fn)
    fn = inspect.unwrap(fn)
    scope: dict[str, Any] = {**fn.__globals__, **inspect.getclosurevars(fn).nonlocals}
    found: set[Callable[..., Any]] = set()
    for node in ast.walk(tree) if tree else ():
        chain = _dotted(node) if isinstance(node, ast.Attribute | ast.Name) else None
        if not chain or chain[0] not in scope:
            continue
        obj: Any = scope[chain[0]]
        for part in chain[1:]:
            if not isinstance(obj, types.ModuleType | type):
                break
            obj = getattr(obj, part, None)
        if inspect.isclass(obj) and _ours(obj, home):
            found |= {m for _, m in inspect.getmembers(obj, inspect.isfunction) if _ours(m, home)}
        elif inspect.isfunction(obj) and _ours(obj, home):
            found.add(obj)
    return found


def path_to_sink(start: Callable[..., Any]) -> list[str] | None:
    """The chain of functions from ``start`` to the first sink it reaches, else None."""
    home = start.__module__
    came: dict[Callable[..., Any], Callable[..., Any] | None] = {start: None}
    todo = [start]
    while todo:
        assert len(came) < MAX_WALK, "the walk did not end"
        fn = todo.pop()
        if is_sink(fn):
            steps: list[str] = []
            at: Callable[..., Any] | None = fn
            while at is not None:
                steps.append(f"{at.__module__}.{at.__qualname__}")
                at = came[at]
            return steps[::-1]
        for callee in callees(fn, home):
            if callee not in came:
                came[callee] = fn
                todo.append(callee)
    return None


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def points_fields(document: dict[str, Any], schema: dict[str, Any], seen: set[str]) -> set[str]:
    """Names of the points fields anywhere in a request schema."""
    ref = schema.get("$ref")
    if ref in seen:
        return set()
    seen |= {ref} if ref else set()
    schema = _resolve(document, schema)
    found = {name for name in schema.get("properties", {}) if "points" in name}
    nested = [*schema.get("properties", {}).values(), *schema.get("anyOf", []),
              *schema.get("allOf", []), *schema.get("oneOf", [])]  # fmt: skip
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            nested.append(schema[key])
    for sub in nested:
        found |= points_fields(document, sub, seen)
    return found


def operations(app: FastAPI) -> Iterator[tuple[str, str, set[str], Callable[..., Any]]]:
    """(method, path, the points fields of its request, its handler) of every operation."""
    document = app.openapi()
    # FastAPI 0.165 keeps an included router as one lazy entry, which iter_route_contexts opens
    contexts = getattr(fastapi.routing, "iter_route_contexts", None)
    routes = list(contexts(app.router.routes)) if contexts else app.routes
    handlers = {
        (method.lower(), route.path): route.endpoint
        for route in routes
        if isinstance(getattr(route, "route", route), APIRoute)
        for method in route.methods
    }
    for path, item in document["paths"].items():
        for method, operation in item.items():
            fields = {p["name"] for p in operation.get("parameters", []) if "points" in p["name"]}
            for media in operation.get("requestBody", {}).get("content", {}).values():
                fields |= points_fields(document, media.get("schema", {}), set())
            yield method, path, fields, handlers[method, path]


def points_to_money(app: FastAPI) -> list[tuple[str, str, set[str], list[str]]]:
    """Every operation that takes points and reaches a sink, with the path it reaches it by."""
    found = []
    for method, path, fields, handler in operations(app):
        if fields and (steps := path_to_sink(handler)):
            found.append((method, path, fields, steps))
    return found


# -- 1. the API -----------------------------------------------------------------------------------


@pytest.fixture
def app(tmp_path: Any) -> Iterator[FastAPI]:
    ctx = open_alliance(f"sqlite:///{tmp_path / 'static.db'}", secret="s", clock=SimulatedClock(T0))
    yield create_app(ctx)
    ctx.engine.dispose()


def test_no_operation_that_takes_points_reaches_money_owed_to_a_person(app: FastAPI) -> None:
    ops = list(operations(app))
    taking_points = {(m, p) for m, p, fields, _ in ops if fields}
    assert ("post", "/v1/redemptions") in taking_points  # the walk sees points where they are
    assert len(ops) >= 90
    assert points_to_money(app) == []


def test_the_walker_follows_a_route_into_the_services_it_calls(app: FastAPI) -> None:
    """The daily jobs do accrue rewards: the walk must find that path, or it proves nothing."""
    handler = next(h for m, p, _, h in operations(app) if (m, p) == ("post", "/v1/jobs/run"))
    steps = path_to_sink(handler)
    assert steps is not None and any("accrual" in step for step in steps), steps


class _CashOut(BaseModel):
    points: int


def test_a_route_that_takes_points_and_pays_a_person_is_caught(app: FastAPI) -> None:
    def helper(ctx: Context) -> object:
        return accrue_due(ctx)

    def cash_out(body: _CashOut) -> dict[str, int]:  # a route nobody may ever add
        helper(app.state.ctx)
        return {"fen": body.points}

    app.router.add_api_route("/v1/me/cash-out", cash_out, methods=["POST"])
    app.openapi_schema = None
    caught = points_to_money(app)
    assert [(m, p, f) for m, p, f, _ in caught] == [("post", "/v1/me/cash-out", {"points"})]
    assert caught[0][3][-1].startswith("jifen.promoters.accrual.")


# -- 2. the services ------------------------------------------------------------------------------


def _modules(package: str) -> list[types.ModuleType]:
    root = importlib.import_module(package)
    names = [m.name for m in pkgutil.walk_packages(root.__path__, package + ".")]
    return [root, *(importlib.import_module(name) for name in names)]


def _functions(package: str) -> Iterator[Callable[..., Any]]:
    """Every function defined in the package's modules."""
    for module in _modules(package):
        for _, fn in inspect.getmembers(module, inspect.isfunction):
            if fn.__module__ == module.__name__:
                yield fn


def _public_functions(package: str) -> Iterator[Callable[..., Any]]:
    for fn in _functions(package):
        if not fn.__name__.startswith("_") and "._" not in fn.__module__:
            yield fn


def test_no_service_that_takes_points_reaches_money_owed_to_a_person() -> None:
    taking_points = [
        fn
        for package in SERVICE_PACKAGES
        for fn in _public_functions(package)
        if any("points" in p for p in inspect.signature(fn).parameters)
    ]
    assert redeem in taking_points  # the services that spend points are among those checked
    assert [(f.__module__, f.__name__, path_to_sink(f)) for f in taking_points
            if path_to_sink(f)] == []  # fmt: skip
    assert path_to_sink(accrue_due) is not None


def test_the_points_flows_never_name_money_owed_to_a_person() -> None:
    """alliance, settlement and funds move points and merchants' money; what is owed to persons
    is the promoters' alone."""
    naming = [
        f"{fn.__module__}.{fn.__qualname__}"
        for package in POINTS_FLOWS
        for fn in _functions(package)
        if is_sink(fn) and fn is not _erase_payee
    ]
    assert naming == []
    # the one exception: a member's erasure blanks or deletes their payee record (privacy.md); it
    # writes nothing owed and no payout, which its source shows
    erasing = inspect.getsource(_erase_payee)
    assert is_sink(_erase_payee) and "insert(" not in erasing
    assert "update(t.referral_payout_lines" not in erasing and "Post(" not in erasing
    assert jifen.promoters.accrual.accrue_due.__module__ == "jifen.promoters.accrual"


# -- 3. a whole alliance, then the journal ---------------------------------------------------------


@pytest.fixture
def ctx(db_url: str) -> Iterator[Context]:
    context = open_alliance(db_url, secret="no-cash-out", clock=SimulatedClock(T0))
    terms = ReferralRules(depth=2, direct_bp=30, indirect_bp=20, recruiter_bp=10)
    version = context.rulebook.draft(RuleDocument(referral=terms), T0)
    context.rulebook.publish(
        version.number, effective_at=T0, reason="launch", now=T0, points_outstanding=False
    )
    for merchant_id in ("tea", "film"):
        create_merchant(ctx=context, merchant=Merchant(merchant_id, merchant_id, "cafe",
                        MerchantStatus.ACTIVE), now=T0)  # fmt: skip
    yield context
    context.engine.dispose()


def _run_an_alliance(ctx: Context) -> None:
    assert isinstance(ctx.clock, SimulatedClock)
    a, b, c = (
        enrol(ctx, f"1350013500{n}", {"terms": True, "privacy": True}, T0).member_id
        for n in range(3)
    )
    bind_referrer(ctx, b, a)
    bind_referrer(ctx, c, b)
    for day in range(12):
        now = T0 + timedelta(days=day)
        ctx.clock.set(now)
        for buyer in (a, b, c):
            record_order(ctx, "tea", order_ref=f"t{day}{buyer}", member_id=buyer,
                         amount_fen=12_345 + day, paid_at=now)  # fmt: skip
        if day == 1:
            refund_order(ctx, "tea", f"t0{c}", refund_ref="r0", refund_fen=5_000)
        run_jobs(ctx)
        if day >= 9:  # released points spent, and a released order refunded
            code, _ = new_code(ctx, c, now)
            redeem(ctx, "film", code=code, points=100, order_ref=f"f{day}", order_amount_fen=10_000)
            refund_order(ctx, "tea", f"t{day - 9}{b}", refund_ref="late", refund_fen=1_000)
    ctx.clock.set(T0 + timedelta(days=30))
    run_jobs(ctx)


def test_a_whole_alliance_never_turns_points_into_money(ctx: Context) -> None:
    _run_an_alliance(ctx)
    with ctx.engine.connect() as conn:
        journal = queries.journal(conn, chain_id=None, after=None, limit=100_000)
    assert any(e.kind == "redeem" for e in journal) and any(e.kind == "refund" for e in journal)
    owed: dict[str, int] = {}
    for entry in journal:
        legs = [(account, asset, amount) for account, asset, amount, _ in entry.legs]
        takes_points = any(
            account.startswith("member:") and asset == "POINTS" and amount < 0
            for account, asset, amount in legs
        )
        pays = [amount for account, asset, amount in legs if account in OWED_TO_PERSONS]
        assert not (takes_points and pays), entry
        if pays:
            assert entry.kind == "post" and sorted(legs) == sorted(
                [(REVENUE, "CNY", -pays[0]), (REFERRAL_PAYABLE, "CNY", pays[0])]
            ), entry
            assert "funded_by operator_revenue" in entry.detail["memo"]
            owed[entry.entry_id] = pays[0]
    rewards = {r.entry_id: r for r in list_rewards(ctx, state="accrued", limit=100).items}
    assert owed and set(owed) == set(rewards)
    with ctx.engine.connect() as conn:
        lots = queries.lots_by_id(conn, [r.earn_entry_id for r in rewards.values()])
    for entry_id, fen in owed.items():
        reward = rewards[entry_id]
        lot = lots[reward.earn_entry_id]  # a real, paid order: cash, never points
        assert reward.order_ref in lot.order_ref and f"order {lot.order_ref}" in next(
            e.detail["memo"] for e in journal if e.entry_id == entry_id
        )
        assert 0 < reward.basis_fen <= lot.amount_fen
        assert (
            fen == reward.fen == reward_fen(reward.basis_fen, reward.share_bp) - reward.capped_fen
        )
    assert verify_books(ctx.engine).ok
