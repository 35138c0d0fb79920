"""Split receivers (分账接收方): add and delete, direct/SP and 平台收付通 (payments.md §1.2).

A receiver is a relation of one payer: only receivers added for that payer can be split to (rule
6). The ``name`` field travels RSA-OAEP encrypted to the platform key, and the request must name
that key in ``Wechatpay-Serial``; for a MERCHANT_ID receiver the name is required and must be the
merchant's full registered name. 平台收付通 adds receivers for the platform (the SP) itself; its
sub-merchants may split to them.
"""

from __future__ import annotations

from typing import Any

from jifen.sandbox._calls import Call, payer_of, require_sp
from jifen.sandbox._crypto import oaep_decrypt
from jifen.sandbox._requests import ReceiverAdd, ReceiverDelete, parse
from jifen.sandbox._state import Relation
from jifen.sandbox._world import World, invalid, param_error

MAX_RECEIVERS = 20_000


def relation_key(owner_mchid: str, type_: str, account: str) -> str:
    return f"{owner_mchid}|{type_}|{account}"


def decrypt_name(world: World, call: Call, ciphertext: str) -> str:
    """A sensitive field in the clear, or ``400 PARAM_ERROR`` if it cannot be read."""
    if call.wechatpay_serial != world.state.platform_public_key_id:
        raise param_error(
            "Wechatpay-Serial 须为加密所用的微信支付公钥ID / Wechatpay-Serial must name the "
            "platform public key the field was encrypted with"
        )
    plain = oaep_decrypt(world.platform_key, ciphertext)
    if plain is None:
        raise param_error("敏感字段解密失败 / the encrypted name cannot be decrypted")
    return plain


def add(world: World, call: Call, *, ecommerce: bool) -> dict[str, Any]:
    req = parse(ReceiverAdd, call.body)
    if ecommerce:
        require_sp(call)
        owner = call.caller
    else:
        owner = payer_of(world, call, req.sub_mchid)
    cipher = req.encrypted_name or req.name
    name = decrypt_name(world, call, cipher) if cipher else None
    if req.relation_type == "CUSTOM" and not req.custom_relation:
        raise param_error("relation_type 为 CUSTOM 时须填 custom_relation / name the relation")
    if req.type == "MERCHANT_ID":
        _check_merchant_receiver(world, owner.mchid, req.account, name)
    elif not (req.appid or req.sub_appid):
        raise param_error("个人接收方须提供 appid / a person receiver needs the appid")
    rel_key = relation_key(owner.mchid, req.type, req.account)
    relations = world.state.relations
    if (
        rel_key not in relations
        and sum(1 for r in relations.values() if r.owner_mchid == owner.mchid) >= MAX_RECEIVERS
    ):
        raise invalid("分账接收方数量超过上限 / at most 20,000 receivers per merchant")
    relations[rel_key] = Relation(
        owner_mchid=owner.mchid, type=req.type, account=req.account, name=name,
        relation_type=req.relation_type, custom_relation=req.custom_relation, added_at=world.now,
    )  # fmt: skip
    answer: dict[str, Any] = {"type": req.type, "account": req.account}
    if ecommerce:
        return answer
    if owner.kind == "sub_merchant":
        answer = {"sub_mchid": owner.mchid} | answer
    answer["relation_type"] = req.relation_type
    if req.custom_relation:
        answer["custom_relation"] = req.custom_relation
    if req.name:
        answer["name"] = req.name
    return answer


def _check_merchant_receiver(world: World, owner: str, account: str, name: str | None) -> None:
    if name is None:
        raise param_error(
            "商户接收方须提供 name（商户全称）/ a MERCHANT_ID receiver needs its name"
        )
    receiver = world.merchant(account)
    if receiver is None:
        raise invalid("分账接收方账号不存在 / no such merchant")
    if account == owner:
        raise invalid("不能添加自己为分账接收方 / a merchant cannot receive from itself")
    if receiver.role == "platform":
        raise invalid("沙箱：服务商账户不收款 / the service-provider account holds no money")
    if name != receiver.name:
        raise invalid("分账接收方全称不匹配 / the name is not the merchant's full name")


def delete(world: World, call: Call, *, ecommerce: bool) -> dict[str, Any]:
    req = parse(ReceiverDelete, call.body)
    if ecommerce:
        require_sp(call)
        owner = call.caller
    else:
        owner = payer_of(world, call, req.sub_mchid)
    world.state.relations.pop(relation_key(owner.mchid, req.type, req.account), None)
    answer: dict[str, Any] = {"type": req.type, "account": req.account}
    if owner.kind == "sub_merchant" and not ecommerce:
        answer = {"sub_mchid": owner.mchid} | answer
    return answer


def relation_for(
    world: World, payer_mchid: str, type_: str, account: str, *, ecommerce: bool
) -> Relation | None:
    """The relation a split of ``payer_mchid`` to ``account`` stands on: the payer's own, or
    (平台收付通) one its service provider added."""
    relations = world.state.relations
    found = relations.get(relation_key(payer_mchid, type_, account))
    payer = world.merchant(payer_mchid)
    if found is None and ecommerce and payer is not None and payer.sp_mchid:
        found = relations.get(relation_key(payer.sp_mchid, type_, account))
    return found
