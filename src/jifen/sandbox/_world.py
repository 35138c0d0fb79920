"""What every sandbox operation works with: the state, the moment, the fund ledger, the outbox.

Operations check first and change second: every refusal is raised before the first write, so a
refused request leaves no trace. Money moves only through :meth:`World.move`, which appends to the
ledger, updates the balances and refuses any movement that is not one of the shapes of
payments.md §7 rule 19 (see :data:`MOVEMENT_SHAPES`): the platform's own accounts never hold a
customer's money on its way somewhere else.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from jifen.sandbox._clock import rfc3339
from jifen.sandbox._crypto import encrypt_resource
from jifen.sandbox._state import Merchant, Movement, Notification, SandboxState, Task
from jifen.sandbox.errors import WireRefusal

# kind → (source bucket, destination bucket, must both sides belong to one merchant?).
# A bucket is "<mchid>:FROZEN"-style for merchants; "person:" (a customer or payee person);
# "WECHATPAY:FEES" (the provider's fee income). Every shape is payer→receiver, receiver→payer,
# payer→customer, a merchant's own money changing buckets, or the fee; the two arrangements
# outside WeChat (商家转账 to persons, the reserve's depository payout) are named as such.
MOVEMENT_SHAPES: dict[str, tuple[str, str, bool]] = {
    "payment": ("person", "FROZEN|AVAILABLE", False),  # customer → payer
    "fee": ("FROZEN|AVAILABLE", "FEES", False),  # payer → WeChat Pay's fee
    "split_hold": ("FROZEN", "SPLITTING", True),  # instruction accepted, funds earmarked
    "split": ("SPLITTING", "AVAILABLE|person", False),  # payer → receiver
    "split_closed": ("SPLITTING", "AVAILABLE", True),  # a CLOSED receiver: back to the payer
    "unfreeze": ("FROZEN|SPLITTING", "AVAILABLE", True),  # the remainder released to the payer
    "split_return": ("AVAILABLE", "AVAILABLE", False),  # receiver → payer
    "refund": ("FROZEN|AVAILABLE", "person", False),  # payer → customer
    "transfer_hold": ("AVAILABLE", "TRANSFERRING", True),
    "mch_transfer": ("TRANSFERRING", "person", False),  # 商家转账: merchant → person
    "depository_payout": ("AVAILABLE", "BANK", False),  # reserve → a merchant's bank account
    "top_up": ("BANK", "AVAILABLE", True),  # a merchant tops up its own balance
}
PAYMENT_ROLES = {"merchant"}  # the platform's accounts never take a customer's money
RECEIVER_ROLES = {"merchant", "operator", "reserve"}
FEES = "WECHATPAY:FEES"


def account(mchid: str, bucket: str) -> str:
    return f"{mchid}:{bucket}"


def person(openid: str) -> str:
    return f"person:{openid}"


def refuse(status: int, code: str, message: str) -> WireRefusal:
    return WireRefusal(status, code, message)


def param_error(message: str) -> WireRefusal:
    return WireRefusal(400, "PARAM_ERROR", message)


def invalid(message: str) -> WireRefusal:
    return WireRefusal(400, "INVALID_REQUEST", message)


def not_enough(message: str = "分账金额不足 / not enough splittable funds") -> WireRefusal:
    return WireRefusal(403, "NOT_ENOUGH", message)


def not_found(message: str) -> WireRefusal:
    return WireRefusal(404, "RESOURCE_NOT_EXISTS", message)


class MovementRefused(AssertionError):
    """A movement outside :data:`MOVEMENT_SHAPES`: a bug in the sandbox, never a client's fault."""


@dataclass
class World:
    state: SandboxState
    now: datetime
    platform_key: rsa.RSAPrivateKey

    # -- identities -------------------------------------------------------------------------
    def next_number(self, prefix: str, digits: int) -> str:
        """A WeChat-looking id: prefix, the China date, a zero-padded serial."""
        self.state.counter += 1
        day = rfc3339(self.now)[:10].replace("-", "")
        return f"{prefix}{day}{self.state.counter:0{digits}d}"

    def merchant(self, mchid: str) -> Merchant | None:
        return self.state.merchants.get(mchid)

    # -- money ------------------------------------------------------------------------------
    def balance(self, name: str) -> int:
        return self.state.balances.get(name, 0)

    def move(self, kind: str, src: str, dst: str, amount_fen: int, **refs: str) -> None:
        self._check_shape(kind, src, dst, amount_fen)
        external = src.startswith(("person:", "WECHATPAY:")) or src.endswith(":BANK")
        if not external and self.balance(src) < amount_fen:
            raise MovementRefused(f"{src} would go negative moving {amount_fen} ({kind})")
        self.state.balances[src] = self.balance(src) - amount_fen
        self.state.balances[dst] = self.balance(dst) + amount_fen
        seq = len(self.state.movements) + 1
        self.state.movements.append(
            Movement(
                seq=seq, at=self.now, kind=kind, from_account=src, to_account=dst,
                amount_fen=amount_fen, refs=refs,
            )
        )  # fmt: skip

    def _check_shape(self, kind: str, src: str, dst: str, amount_fen: int) -> None:
        if kind not in MOVEMENT_SHAPES or amount_fen <= 0:
            raise MovementRefused(f"no movement of kind {kind!r} for {amount_fen} fen")
        src_shape, dst_shape, same_owner = MOVEMENT_SHAPES[kind]
        src_owner, src_bucket = _split(src)
        dst_owner, dst_bucket = _split(dst)
        if src_bucket not in src_shape.split("|") or dst_bucket not in dst_shape.split("|"):
            raise MovementRefused(f"{kind}: {src} → {dst} is not a permitted shape")
        if same_owner != (src_owner == dst_owner):
            raise MovementRefused(f"{kind}: {src} → {dst} has the wrong owners")
        for owner, bucket in ((src_owner, src_bucket), (dst_owner, dst_bucket)):
            if bucket in ("person", "FEES"):
                continue
            found = self.merchant(owner)
            if found is None or found.role == "platform":
                raise MovementRefused(f"{kind}: {owner} may hold no money")
        payee = self.merchant(dst_owner)
        if kind == "payment" and (payee is None or payee.role not in PAYMENT_ROLES):
            raise MovementRefused(f"payment to {dst}: the platform's accounts take no payments")
        if kind == "split" and payee is not None and payee.role not in RECEIVER_ROLES:
            raise MovementRefused(f"split to {dst}: not a receiver account")
        if kind == "depository_payout":
            reserve = self.merchant(src_owner)
            if reserve is None or reserve.role != "reserve":
                raise MovementRefused(f"depository payout from {src}: not the reserve")

    # -- time -------------------------------------------------------------------------------
    def schedule(self, kind: Any, ref: str, delay_s: float = 0, at: datetime | None = None) -> None:
        due = at if at is not None else self.now + timedelta(seconds=delay_s)
        self.state.counter += 1
        self.state.tasks.append(Task(due_at=due, seq=self.state.counter, kind=kind, ref=ref))

    # -- callbacks --------------------------------------------------------------------------
    def notify(
        self,
        *,
        url: str | None,
        target_mchid: str,
        apiv3_key: str | None,
        event_type: str,
        summary: str,
        original_type: str,
        resource: dict[str, Any],
    ) -> None:
        """Queue an encrypted callback (payments.md §1.5) for the background sender."""
        if not url or not apiv3_key:
            return
        plaintext = json.dumps(resource, ensure_ascii=False, separators=(",", ":"))
        event_id = str(uuid.uuid4())
        body = {
            "id": event_id,
            "create_time": rfc3339(self.now),
            "resource_type": "encrypt-resource",
            "event_type": event_type,
            "summary": summary,
            "resource": {
                **encrypt_resource(apiv3_key, plaintext, original_type),
                "original_type": original_type,
            },
        }
        faults = self.state.faults
        self.state.notifications.append(
            Notification(
                id=event_id, event_type=event_type, url=url, target_mchid=target_mchid,
                body=json.dumps(body, ensure_ascii=False, separators=(",", ":")),
                created_at=self.now,
                next_attempt_at=self.now + timedelta(seconds=faults.notify_delay_s),
                copies_left=2 if faults.notify_duplicate else 1,
            )
        )  # fmt: skip

    def api_key_of(self, mchid: str) -> str | None:
        """The APIv3 key callbacks for ``mchid`` are encrypted with: its own, or its SP's."""
        found = self.merchant(mchid)
        if found is None:
            return None
        if found.apiv3_key is None and found.sp_mchid:
            sp = self.merchant(found.sp_mchid)
            return sp.apiv3_key if sp else None
        return found.apiv3_key


def _split(name: str) -> tuple[str, str]:
    if name.startswith("person:"):
        return name.removeprefix("person:"), "person"
    owner, _, bucket = name.rpartition(":")
    return owner, bucket
