"""The operator's merchants: the list, onboarding (its API key shown once), and suspending or
reactivating one with a reason. Each write calls the service the API's route calls
(``jifen.api.routes_operator``: ``create_merchant``, ``set_merchant_status``), through the same
idempotency mechanism, keyed by the form."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import Connection

from jifen.alliance import merchants
from jifen.api._fields import field_errors
from jifen.api.schemas import MerchantCreated, MerchantIn, MerchantOut, StatusIn
from jifen.app.context import Context
from jifen.errors import JifenError
from jifen.web import csrf
from jifen.web.access import OperatorPage
from jifen.web.operator._shared import form_key, once_from_form
from jifen.web.render import describe, language, page

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50
Text = Annotated[str, Form(max_length=500)]
Optional = Annotated[str, Form(max_length=500)]
STORES_FIELD = Annotated[str, Form(max_length=20_000)]


@router.get("/operator/merchants", response_class=HTMLResponse)
def merchant_list(request: Request, who: OperatorPage, cursor: str | None = None) -> HTMLResponse:
    """Every merchant, a page at a time, with its status (``merchants.list_merchants``)."""
    ctx: Context = request.app.state.ctx
    found = merchants.list_merchants(ctx, cursor=cursor, limit=PAGE_SIZE)
    return page(
        request,
        "operator/merchants.html",
        who=who,
        merchants=found.items,
        next_cursor=found.next_cursor,
        first_page=cursor is None,
    )


def _form(request: Request, who: Any, *, status: int = 200, **ctx: Any) -> HTMLResponse:
    values = ctx.pop("values", {})
    return page(
        request,
        "operator/merchant_new.html",
        who=who,
        status=status,
        values=values,
        form_key=ctx.pop("key", None) or form_key(),
        error=ctx.pop("error", None),
        field_errors=ctx.pop("field_errors", []),
    )


@router.get("/operator/merchants/new", response_class=HTMLResponse)
def merchant_form(request: Request, who: OperatorPage) -> HTMLResponse:
    return _form(request, who)


def _stores(text: str) -> list[dict[str, str]]:
    """One store a line, ``store_id:name[:city]``, as the import's ``stores`` column writes
    them (``;`` also separates); the schema checks each (``StoreIn``)."""
    stores = []
    for line in text.replace(";", "\n").splitlines():
        if line.strip():
            store_id, _, rest = line.strip().partition(":")
            name, _, city = rest.partition(":")
            stores.append(
                {"store_id": store_id.strip(), "name": name.strip(), "city": city.strip()}
            )
    return stores


@router.post("/operator/merchants", dependencies=[Depends(csrf.check)])
def onboard(
    request: Request,
    who: OperatorPage,
    merchant_id: Text,
    name: Text,
    category: Text,
    legal_name: Text,
    licence_no: Text,
    form_key: Annotated[str, Form(max_length=128)],
    contact_name: Optional = "",
    stores: STORES_FIELD = "",
) -> Response:
    """Onboard one merchant, as ``POST /v1/merchants``: record, ledger accounts and an API key,
    in one transaction. The key is in this answer only (never stored in clear, never in a
    replay), so the page shows it now, instead of redirecting to a page that could not."""
    ctx: Context = request.app.state.ctx
    values = {
        "merchant_id": merchant_id.strip(), "name": name.strip(), "category": category.strip(),
        "legal_name": legal_name.strip(), "licence_no": licence_no.strip(),
        "contact_name": contact_name.strip(), "stores": stores,
    }  # fmt: skip
    try:
        body = MerchantIn.model_validate(
            {
                "merchant_id": values["merchant_id"],
                "name": values["name"],
                "category": values["category"],
                "kyc": {k: values[k] for k in ("legal_name", "licence_no", "contact_name")},
                "stores": _stores(stores),
            }
        )
    except ValidationError as exc:
        errors = field_errors(exc.errors(), language(request))
        return _form(request, who, status=422, values=values, key=form_key, field_errors=errors)

    def run(tx: Connection) -> MerchantCreated:
        merchant, api_key = merchants.create_merchant(
            ctx,
            merchants.Merchant(
                merchant_id=body.merchant_id,
                name=body.name,
                category=body.category,
                status=merchants.MerchantStatus.ACTIVE,
                kyc=body.kyc.model_dump(),
                stores=tuple(merchants.Store(**s.model_dump()) for s in body.stores),
            ),
            ctx.clock.now(),
            conn=tx,
        )
        return MerchantCreated(merchant=MerchantOut.model_validate(merchant), api_key=api_key)

    try:
        answer, replayed = once_from_form(request, who, form_key, body, run, secret="api_key")
    except JifenError as exc:
        error = describe(request, exc)
        return _form(request, who, status=exc.status, values=values, key=form_key, error=error)
    return page(
        request,
        "operator/merchant_created.html",
        who=who,
        merchant=answer["merchant"],
        api_key=answer["api_key"],
        replayed=replayed,
    )


@router.get("/operator/merchants/{merchant_id}", response_class=HTMLResponse)
def merchant_page(request: Request, who: OperatorPage, merchant_id: str) -> HTMLResponse:
    return _merchant_page(request, who, merchant_id)


def _merchant_page(
    request: Request, who: Any, merchant_id: str, *, status: int = 200, error: str | None = None
) -> HTMLResponse:
    ctx: Context = request.app.state.ctx
    return page(
        request,
        "operator/merchant.html",
        who=who,
        status=status,
        merchant=merchants.get_merchant(ctx, merchant_id),
        changes=merchants.status_changes(ctx, merchant_id),
        form_key=form_key(),
        error=error,
    )


@router.post("/operator/merchants/{merchant_id}/status", dependencies=[Depends(csrf.check)])
def change_status(
    request: Request,
    who: OperatorPage,
    merchant_id: str,
    status: Annotated[merchants.MerchantStatus, Form()],
    reason: Annotated[str, Form(max_length=500)],
    form_key: Annotated[str, Form(max_length=128)],
) -> Response:
    """Suspend or reactivate, as ``POST /v1/merchants/{id}/status``, with the reason recorded
    beside it. A suspended merchant's console sessions end at their next page
    (``jifen.web.sessions``); its orders and redemptions are refused by the services."""
    ctx: Context = request.app.state.ctx
    body = StatusIn(status=status)

    def run(tx: Connection) -> MerchantOut:
        changed = merchants.set_status(
            ctx, merchant_id, status, ctx.clock.now(), conn=tx, actor=who.actor, reason=reason
        )
        return MerchantOut.model_validate(changed)

    try:
        once_from_form(request, who, form_key, body, run)
    except JifenError as exc:
        return _merchant_page(
            request, who, merchant_id, status=exc.status, error=describe(request, exc)
        )
    request.app.state.key_cache.clear()  # as the API does: no key is trusted from before
    return RedirectResponse(f"/operator/merchants/{merchant_id}", status_code=303)
