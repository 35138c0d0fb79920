"""Bodies of the operator tools and the auditor's reads (docs/operator-tools.md,
docs/auditor.md): keys, imports, lookups, reversals, the journal, verifications."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field, StrictInt

from jifen.alliance.keys import MAX_GRACE
from jifen.api._types import ID, NOT_BLANK, Text
from jifen.api.schemas._in import Strict
from jifen.api.schemas._out import MemberOut, Page, RedemptionOut, _Out

# -- keys ------------------------------------------------------------------------------------------


class KeyIn(Strict):
    name: Text = Field(pattern=ID, description="门店或收银台名 / the store's or till's label")
    store_id: Text | None = Field(
        default=None, max_length=64, description="商家的门店编号 / one of the merchant's stores"
    )


class RotateIn(Strict):
    grace_seconds: StrictInt = Field(
        default=3600,
        ge=0,
        le=int(MAX_GRACE.total_seconds()),
        description="旧密钥继续有效的秒数（0：立即吊销）/ how long the old key stays valid",
    )


class AuditorIn(Strict):
    name: Text = Field(pattern=ID, description="审计方名称 / who the credential is for")


class KeyOut(_Out):
    key_id: str
    role: str
    merchant_id: str | None
    name: str | None
    store_id: str | None
    created_at: datetime
    revoked_at: datetime | None
    expires_at: datetime | None = Field(description="轮换宽限期结束 / end of a rotation's grace")
    status: str = Field(description="active | expiring | revoked")


class KeyCreated(_Out):
    key: KeyOut
    api_key: str | None = Field(
        description="只显示这一次；重放请求时为 null / shown only once; null on a replayed request"
    )


class KeyRotated(KeyCreated):
    old: KeyOut


# -- imports and lookups ---------------------------------------------------------------------------


class RowErrorOut(_Out):
    row: int
    column: str
    code: str
    message: str


class RowResultOut(_Out):
    row: int
    id: str
    outcome: str = Field(description="new | unchanged")


class ImportOut(_Out):
    kind: str
    dry_run: bool
    written: bool
    rows: int
    new: int
    unchanged: int
    results: list[RowResultOut]
    errors: list[RowErrorOut]


PHONE = r"(?:[ \t-]*(?:\+86|0086)?[ \t-]*1[ \t-]*[3-9](?:[ \t-]*[0-9]){9}[ \t-]*)"
"""A mainland mobile number as ``POST /v1/members`` takes it (+86, spaces, dashes allowed)."""


class LookupIn(Strict):
    member: Text = Field(
        pattern=f"^(?:m[0-9a-f]{{15}}|{PHONE})$",
        description="会员编号 m… 或手机号 / a member id (m…) or a phone number",
    )
    reason: str = Field(
        min_length=1,
        max_length=500,
        pattern=NOT_BLANK,
        description="查询理由（记入审计）/ why",
    )


class AuditRecordOut(_Out):
    record_id: str
    at: datetime
    actor: str
    action: str
    query: str
    subject: str | None
    reason: str


class AuditRecordPage(Page[AuditRecordOut]):
    pass


class LookupOut(_Out):
    record: AuditRecordOut
    member: MemberOut | None = Field(description="null: 无此会员 / no such member")


# -- redemption void and reversal ------------------------------------------------------------------


class ReasonIn(Strict):
    reason: str = Field(min_length=1, max_length=200, pattern=NOT_BLANK, description="理由 / why")


class ReversalOut(_Out):
    reversal_id: str
    kind: str = Field(description="void | reversal")
    redemption: RedemptionOut
    merchant_id: str
    reason: str
    at: datetime


# -- the auditor's reads ---------------------------------------------------------------------------


class LegOut(_Out):
    account: str
    asset: str
    amount: int
    lot_id: str | None


class JournalEntryOut(_Out):
    entry_id: str
    kind: str
    at: datetime
    chain_id: int
    height: int
    seq: int
    entry_hash: str
    idem_key: str
    body_hash: str
    detail: dict[str, Any]
    legs: list[LegOut]


class JournalPage(Page[JournalEntryOut]):
    pass


class BlockOut(_Out):
    chain_id: int
    height: int
    prev_hash: str
    hash_alg: str
    committed_at: datetime
    entry_count: int
    block_hash: str


class BlockPage(Page[BlockOut]):
    pass


class LaneOut(_Out):
    chain_id: int
    height: int
    block_hash: str = Field(description="该链最新区块的哈希 / the lane's latest block hash")


class VerificationOut(_Out):
    verification_id: str
    requested_by: str
    started_at: datetime
    finished_at: datetime | None
    state: str = Field(description="running | passed | failed | abandoned")
    report: dict[str, Any] | None = Field(description="同 jifen verify --json / as verify --json")


class VerificationPage(Page[VerificationOut]):
    pass
