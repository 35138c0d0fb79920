"""Webhooks (docs/webhooks.md): a merchant or the operator subscribes a URL to events, reads
each subscription's delivery log, and replays. Each subscriber sees only its own
subscriptions; another's is "not found", exactly as one that does not exist."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse

from jifen import webhooks
from jifen.api.auth import Caller, Ctx, OperatorOrMerchant
from jifen.api.idempotency import IdemKey, Limit, once
from jifen.api.schemas import Problem
from jifen.api.schemas._webhooks import (
    DeliveryOut,
    DeliveryPage,
    ReplayIn,
    ReplayOut,
    SubscriptionChangeIn,
    SubscriptionCreated,
    SubscriptionIn,
    SubscriptionList,
    SubscriptionOut,
)

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks 事件推送"])
SubscriptionId = Annotated[
    str, Path(pattern=r"^whs_[0-9a-f]{24}$", description="订阅 id / the subscription's id")
]
EventId = Annotated[str, Path(pattern=r"^evt_[0-9a-f]{32}$", description="Jifen-Event-Id")]
PROBLEMS: dict[int | str, dict[str, Any]] = {
    404: {"model": Problem, "description": "not found (or not yours)"},
}
SUBSCRIPTION = "/subscriptions/{subscription_id}"


def _subscriber(who: Caller) -> str | None:
    """The merchant whose subscriptions these are, or None for the operator's."""
    if who.role == "operator":
        return None
    return who.merchant_id


def _created(found: tuple[webhooks.Subscription, str]) -> SubscriptionCreated:
    subscription, secret = found
    return SubscriptionCreated.model_validate({**subscription.__dict__, "secret": secret})


@router.post(
    "/subscriptions",
    response_model=SubscriptionCreated,
    status_code=201,
    responses={
        409: {"model": Problem, "description": "too many subscriptions"},
        422: {"model": Problem, "description": "invalid, or an event only the operator gets"},
    },
)
def subscribe(
    request: Request, ctx: Ctx, who: OperatorOrMerchant, body: SubscriptionIn, key: IdemKey = None
) -> JSONResponse:
    """订阅事件 / subscribe a URL to event types; the signing secret is in this answer only."""
    owner = _subscriber(who)
    return once(
        request, who, key, body,
        lambda tx: _created(
            webhooks.create(ctx, owner, url=body.url, events=list(body.events), conn=tx)
        ),
        201, secret="secret",
    )  # fmt: skip


@router.get("/subscriptions", response_model=SubscriptionList)
def list_subscriptions(ctx: Ctx, who: OperatorOrMerchant) -> SubscriptionList:
    """本方的订阅 / the caller's own subscriptions (at most 20)."""
    found = webhooks.list_subscriptions(ctx, _subscriber(who))
    return SubscriptionList(items=[SubscriptionOut.model_validate(s) for s in found])


@router.get(SUBSCRIPTION, response_model=SubscriptionOut, responses=PROBLEMS)
def get_subscription(
    ctx: Ctx, who: OperatorOrMerchant, subscription_id: SubscriptionId
) -> SubscriptionOut:
    return SubscriptionOut.model_validate(webhooks.get(ctx, _subscriber(who), subscription_id))


@router.patch(SUBSCRIPTION, response_model=SubscriptionOut, responses=PROBLEMS)
def change_subscription(
    request: Request, ctx: Ctx, who: OperatorOrMerchant, subscription_id: SubscriptionId,
    body: SubscriptionChangeIn, key: IdemKey = None,
) -> JSONResponse:  # fmt: skip
    """修改、暂停（disabled）或恢复（active）/ change the URL or events, pause or resume."""
    owner = _subscriber(who)
    return once(
        request, who, key, body,
        lambda tx: SubscriptionOut.model_validate(
            webhooks.change(
                ctx, owner, subscription_id, url=body.url,
                events=list(body.events) if body.events is not None else None,
                status=body.status, conn=tx,
            )
        ),
    )  # fmt: skip


@router.delete(SUBSCRIPTION, response_model=SubscriptionOut, responses=PROBLEMS)
def delete_subscription(
    request: Request, ctx: Ctx, who: OperatorOrMerchant, subscription_id: SubscriptionId,
    key: IdemKey = None,
) -> JSONResponse:  # fmt: skip
    """删除订阅 / delete: no more events or deliveries."""
    owner = _subscriber(who)
    return once(
        request, who, key, None,
        lambda tx: SubscriptionOut.model_validate(
            webhooks.delete(ctx, owner, subscription_id, conn=tx)
        ),
    )  # fmt: skip


@router.post(f"{SUBSCRIPTION}/rotate-secret", response_model=SubscriptionCreated,
             responses=PROBLEMS)  # fmt: skip
def rotate_secret(
    request: Request, ctx: Ctx, who: OperatorOrMerchant, subscription_id: SubscriptionId,
    key: IdemKey = None,
) -> JSONResponse:  # fmt: skip
    """更换签名密钥 / a new secret (shown once); the old one also signs for 24 hours."""
    owner = _subscriber(who)
    return once(
        request, who, key, None,
        lambda tx: _created(webhooks.rotate_secret(ctx, owner, subscription_id, conn=tx)),
        secret="secret",
    )  # fmt: skip


@router.get(f"{SUBSCRIPTION}/deliveries", response_model=DeliveryPage, responses=PROBLEMS)
def deliveries(
    ctx: Ctx, who: OperatorOrMerchant, subscription_id: SubscriptionId,
    status: Literal["pending", "delivered", "failed"] | None = None,
    cursor: str | None = None, limit: Limit = 50,
) -> DeliveryPage:  # fmt: skip
    """投递记录 / the delivery log, newest event first: attempts, last status code, next retry."""
    page = webhooks.deliveries(
        ctx, _subscriber(who), subscription_id, status=status, cursor=cursor, limit=limit
    )
    return DeliveryPage.model_validate(page)


@router.post(f"{SUBSCRIPTION}/deliveries/{{event_id}}/replay", response_model=DeliveryOut,
             responses=PROBLEMS)  # fmt: skip
def replay_one(
    request: Request, ctx: Ctx, who: OperatorOrMerchant, subscription_id: SubscriptionId,
    event_id: EventId, key: IdemKey = None,
) -> JSONResponse:  # fmt: skip
    """重发一个事件 / send one event again (same event id: dedupe on it)."""
    owner = _subscriber(who)
    return once(
        request, who, key, None,
        lambda tx: DeliveryOut.model_validate(
            webhooks.replay_one(ctx, owner, subscription_id, event_id, conn=tx)
        ),
    )  # fmt: skip


@router.post(f"{SUBSCRIPTION}/replay", response_model=ReplayOut, responses=PROBLEMS)
def replay_since(
    request: Request, ctx: Ctx, who: OperatorOrMerchant, subscription_id: SubscriptionId,
    body: ReplayIn, key: IdemKey = None,
) -> JSONResponse:  # fmt: skip
    """重发某时之后的全部事件 / send again every event that occurred at or after ``since``."""
    owner = _subscriber(who)
    return once(
        request, who, key, body,
        lambda tx: ReplayOut(
            replayed=webhooks.replay_since(ctx, owner, subscription_id, body.since, conn=tx)
        ),
    )  # fmt: skip
