"""Who receives what: a merchant's account at the provider, the receivers it registered, and its
split plans, filed before use and versioned like rules (a payment keeps the version it was
created under, so a later plan never changes an order already paid).

Linking a merchant registers the platform's two receivers (the reserve and the operator's fee)
with the provider for that merchant: every paid order that earns points splits its issue charge
to them, so they must exist before the first payment.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, func, select

from jifen.alliance.merchants import get_merchant
from jifen.app.context import Context
from jifen.errors import InvalidRequest
from jifen.funds.config import Funds
from jifen.funds.errors import NoProviderAccount, ReceiverNotRegistered
from jifen.payments import (
    DEFAULT_MAX_RATIO_BP,
    FEE_RECEIVER,
    RESERVE_RECEIVER,
    Receiver,
    ReceiverType,
    SplitPlan,
)
from jifen.store import insert_missing
from jifen.store import tables as t


@dataclass(frozen=True)
class ProviderAccount:
    merchant_id: str
    account: str
    max_ratio_bp: int
    linked_at: datetime


@dataclass(frozen=True)
class RegisteredReceiver:
    merchant_id: str
    name: str
    type: str
    account: str
    relation: str
    registered_at: datetime


@dataclass(frozen=True)
class FiledPlan:
    merchant_id: str
    version: int
    plan: SplitPlan
    filed_at: datetime


def link_merchant(
    ctx: Context, funds: Funds, merchant_id: str, *, account: str, max_ratio_bp: int | None = None
) -> ProviderAccount:
    """Name the merchant's account at the provider (its 特约商户号) and register the platform's
    receivers for it. Linking again with the same account is a replay; another account is
    refused (payments already made name the first)."""
    if not account.isascii() or not account.isdigit() or not 1 <= len(account) <= 32:
        raise InvalidRequest("商户号须为数字 / the provider account is digits", field="account")
    cap = DEFAULT_MAX_RATIO_BP if max_ratio_bp is None else max_ratio_bp
    if not 0 <= cap <= 10_000:
        raise InvalidRequest("最大分账比例为 0–10000 基点 / max_ratio_bp is 0–10000")
    get_merchant(ctx, merchant_id)
    existing = provider_account(ctx, merchant_id, required=False)
    if existing is not None:
        if existing.account != account:
            raise InvalidRequest(
                f"商家已关联商户号 {existing.account} / already linked to {existing.account}",
                field="account",
                account=existing.account,
                detail_key="account_linked",
            )
        return existing
    for receiver_account, name in (
        (funds.reserve_account, funds.reserve_name),
        (funds.fee_account, funds.fee_name),
    ):
        funds.provider.add_receiver(
            Receiver(ReceiverType.MERCHANT, receiver_account, name, "SERVICE_PROVIDER"), account
        )
    row = {
        "merchant_id": merchant_id,
        "account": account,
        "max_ratio_bp": cap,
        "linked_at": ctx.clock.now(),
    }
    with ctx.writer.begin() as conn:
        insert_missing(conn, t.provider_accounts, [row])
    return provider_account(ctx, merchant_id)  # type: ignore[return-value]


def provider_account(
    ctx: Context, merchant_id: str, *, required: bool = True, conn: Connection | None = None
) -> ProviderAccount | None:
    with ctx.reading(conn) as c:
        row = c.execute(
            select(t.provider_accounts).where(t.provider_accounts.c.merchant_id == merchant_id)
        ).first()
    if row is None:
        if required:
            raise NoProviderAccount(
                "商家尚未关联支付机构商户号 / the merchant has no account at the provider yet"
            )
        return None
    return ProviderAccount(row.merchant_id, row.account, row.max_ratio_bp, row.linked_at)


def register_receiver(
    ctx: Context,
    funds: Funds,
    merchant_id: str,
    *,
    name: str,
    type: ReceiverType,
    account: str,
    real_name: str | None,
    relation: str = "PARTNER",
) -> RegisteredReceiver:
    """Add a receiver of the merchant's own plan with the provider (分账接收方), under a short
    name the plan uses. The real name goes to the provider (encrypted) and is not stored."""
    if name in (RESERVE_RECEIVER, FEE_RECEIVER):
        raise InvalidRequest(
            "该名称为系统保留 / that name is Jifen's own", field="name", detail_key="name_reserved"
        )
    linked = provider_account(ctx, merchant_id)
    assert linked is not None
    funds.provider.add_receiver(Receiver(type, account, real_name, relation), linked.account)
    row = {
        "merchant_id": merchant_id,
        "name": name,
        "type": type.value,
        "account": account,
        "relation": relation,
        "registered_at": ctx.clock.now(),
    }
    with ctx.writer.begin() as conn:
        insert_missing(conn, t.split_receivers, [row])
    return receivers(ctx, merchant_id)[name]


def receivers(
    ctx: Context, merchant_id: str, *, conn: Connection | None = None
) -> dict[str, RegisteredReceiver]:
    with ctx.reading(conn) as c:
        rows = c.execute(
            select(t.split_receivers).where(t.split_receivers.c.merchant_id == merchant_id)
        ).all()
    return {r.name: RegisteredReceiver(**r._mapping) for r in rows}


def file_plan(
    ctx: Context, merchant_id: str, plan: SplitPlan, *, conn: Connection | None = None
) -> FiledPlan:
    """File a new version of the merchant's plan: every receiver it names must be registered,
    and its cap may not exceed what the provider grants the merchant. Payments created from now
    on use it; payments created before keep theirs."""
    linked = provider_account(ctx, merchant_id, conn=conn)
    assert linked is not None
    known = receivers(ctx, merchant_id, conn=conn)
    for part in plan.parts:
        if part.receiver not in known:
            raise ReceiverNotRegistered(
                f"分账接收方 {part.receiver} 尚未登记 / receiver {part.receiver} is not registered",
                receiver=part.receiver,
            )
    if plan.max_ratio_bp > linked.max_ratio_bp:
        raise InvalidRequest(
            f"最大分账比例超过支付机构授予的 {linked.max_ratio_bp} 基点 / max_ratio_bp is over "
            f"the provider's {linked.max_ratio_bp} bp for this merchant",
            field="max_ratio_bp",
            max_ratio_bp=linked.max_ratio_bp,
            detail_key="ratio_over",
        )

    def work(conn: Connection) -> FiledPlan:
        last = conn.execute(
            select(func.max(t.split_plans.c.version)).where(
                t.split_plans.c.merchant_id == merchant_id
            )
        ).scalar_one()
        version = (last or 0) + 1
        conn.execute(
            t.split_plans.insert().values(
                merchant_id=merchant_id,
                version=version,
                plan=json.dumps(plan.model_dump(mode="json"), sort_keys=True),
                filed_at=ctx.clock.now(),
            )
        )
        return FiledPlan(merchant_id, version, plan, ctx.clock.now())

    return ctx.atomic(conn, work)


def plan_version(
    ctx: Context, merchant_id: str, version: int | None = None, *, conn: Connection | None = None
) -> FiledPlan | None:
    """The plan of that version, or the newest filed (None: the merchant filed none)."""
    query = select(t.split_plans).where(t.split_plans.c.merchant_id == merchant_id)
    if version is not None:
        query = query.where(t.split_plans.c.version == version)
    with ctx.reading(conn) as c:
        row = c.execute(query.order_by(t.split_plans.c.version.desc()).limit(1)).first()
    if row is None:
        return None
    return FiledPlan(
        row.merchant_id, row.version, SplitPlan.model_validate_json(row.plan), row.filed_at
    )
