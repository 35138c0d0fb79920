"""Bodies of the checkpoint routes (docs/transparency.md): the signed checkpoint documents of the
append-only feed, and a member's proof file.

The document is answered exactly as it was signed: its ``taken_at`` stays the signed text (a
``datetime`` would be re-spelled on the way out and the signature would no longer match), and
the signature record keeps whatever fields the signing module gives it."""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field

from jifen.api.schemas._out import Page, _Out

HEX64 = r"^[0-9a-f]{64}$"


class LaneOut(_Out):
    chain_id: int = Field(description="日记账分道 / the journal lane")
    height: int = Field(description="该分道最后一个区块的高度 / the height of the lane's tip")
    block_hash: str = Field(pattern=HEX64, description="该区块的哈希 / that block's hash")


class SnapshotOut(_Out):
    root: str = Field(
        pattern=HEX64, description="会员余额默克尔求和树的根 / the Merkle sum tree's root hash"
    )
    total: int = Field(
        description="会员未使用积分合计 / members' outstanding points, the root's sum"
    )
    members: int = Field(description="计入的会员数 / members counted (one leaf each)")
    reserve_fen: int = Field(description="准备金（分）/ the reserve, fen")
    liability_fen: int = Field(
        description="积分负债（分）/ what the outstanding points are worth, fen"
    )


class CheckpointDocumentOut(_Out):
    format: str = Field(description="jifen-checkpoint/1")
    seq: int = Field(description="检查点编号，从 1 起连续 / the checkpoint's number, from 1")
    taken_at: str = Field(
        description="快照时间（UTC，签名原文）/ when the snapshot was read, UTC, as signed"
    )
    business_date: str | None = Field(
        description="日终快照的营业日，按需快照为 null / the business day of a daily one, else null"
    )
    hash_alg: str = Field(description="日记账的哈希算法 / the journal's hash: sha256 | sm3")
    lanes: list[LaneOut] = Field(description="每个分道的末端 / every lane's tip at that moment")
    snapshot: SnapshotOut
    prev: str = Field(
        pattern=HEX64, description="上一检查点的摘要（链）/ the previous checkpoint's digest"
    )


class SignatureOut(_Out):
    model_config = ConfigDict(from_attributes=True, extra="allow")
    algorithm: str = Field(description="签名算法 / the signing algorithm, e.g. ed25519")
    key_id: str = Field(description="公钥编号 / the signing key's id")
    public_key: str = Field(description="公钥（十六进制）/ the public key, hex")
    value: str = Field(description="对文档规范 JSON 的签名 / the signature of the canonical JSON")


class CheckpointOut(_Out):
    checkpoint: CheckpointDocumentOut = Field(description="签名的文档 / the signed document")
    signature: SignatureOut
    digest: str = Field(
        pattern=HEX64, description="文档规范 JSON 的 SHA-256 / the document's digest"
    )


class CheckpointPage(Page[CheckpointOut]):
    pass


class MemberProofOut(_Out):
    member_id: str
    balance: int = Field(description="本会员在快照中的未使用积分 / the member's points in it")
    salt: str = Field(description="叶子的盐（十六进制）/ the leaf's salt, hex")
    path: list[dict[str, Any]] = Field(
        description="到根的路径 [{side, hash, sum}] / the path to the root"
    )
    root: dict[str, Any] = Field(description="{hash, sum}: 应与检查点一致 / as the checkpoint's")


class ProofFileOut(CheckpointOut):
    format: str = Field(description="jifen-liability-proof/1")
    proof: MemberProofOut


def checkpoint_out(published: dict[str, Any]) -> CheckpointOut:
    """A checkpoint's ``published()`` as the wire's model."""
    return CheckpointOut.model_validate(published)
