"""One signed API call as the operations see it, and who it acts for.

A direct merchant acts for itself. A service provider acts for one of its sub-merchants, named by
``sub_mchid`` in the body or the query; naming a merchant that is not its own is ``403 NO_AUTH``.
The merchant the customer pays, and whose frozen funds a split moves, is the *payer*.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from jifen.sandbox._state import Merchant, SandboxState, Transaction
from jifen.sandbox._world import World, not_found, param_error, refuse


@dataclass(frozen=True)
class Call:
    caller: Merchant
    body: Any = None
    query: dict[str, str] = field(default_factory=dict)
    path: dict[str, str] = field(default_factory=dict)
    wechatpay_serial: str | None = None
    base_url: str = ""


def payer_of(world: World, call: Call, sub_mchid: str | None) -> Merchant:
    """The merchant this call acts for: the caller itself, or the SP's sub-merchant."""
    caller = call.caller
    if caller.kind != "service_provider":
        if sub_mchid not in (None, caller.mchid):
            raise refuse(
                403, "NO_AUTH", "直连商户不能代其他商户请求 / a direct merchant acts alone"
            )
        return caller
    if not sub_mchid:
        raise param_error("缺少 sub_mchid / a service provider must name sub_mchid")
    sub = world.merchant(sub_mchid)
    if sub is None or sub.sp_mchid != caller.mchid:
        raise refuse(403, "NO_AUTH", "服务商与特约商户关系不匹配 / not a sub-merchant of this SP")
    return sub


def require_sp(call: Call) -> None:
    if call.caller.kind != "service_provider":
        raise refuse(403, "NO_AUTH", "仅服务商可调用 / only a service provider may call this")


def transaction_by_id(state: SandboxState, payer: Merchant, transaction_id: str) -> Transaction:
    """The paid transaction ``transaction_id`` of ``payer`` (its SP may ask for it too)."""
    found_key = state.transaction_ids.get(transaction_id)
    txn = state.transactions.get(found_key) if found_key else None
    if txn is None or txn.payer_mchid != payer.mchid:
        raise not_found("订单不存在 / no such transaction for this merchant")
    return txn


def sp_fields(payer: Merchant) -> dict[str, str]:
    """``sub_mchid`` in a service provider's answers; nothing for a direct merchant."""
    return {"sub_mchid": payer.mchid} if payer.kind == "sub_merchant" else {}
