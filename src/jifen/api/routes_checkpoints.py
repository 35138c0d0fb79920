"""Proof of liabilities over HTTP (issue 15, docs/transparency.md): the public, append-only feed
of signed checkpoints; a member's own proof file; the operator taking a checkpoint now.

Anyone may follow the feed (oldest first: a follower keeps ``next_cursor`` and reads only what
is new) and keep what it reads, so that a later rewrite of history shows. A member's proof names
no member in the request: the token says whose it is, so nobody can ask for another's."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse, Response

from jifen.api.auth import Ctx, MemberCaller, Operator
from jifen.api.idempotency import IdemKey, Limit, once_in_steps
from jifen.api.schemas._checkpoints import (
    CheckpointOut,
    CheckpointPage,
    ProofFileOut,
    checkpoint_out,
)
from jifen.proofs import (
    CheckpointNotFound,
    get_checkpoint,
    latest_checkpoint,
    list_checkpoints,
    member_proof,
    take_checkpoint,
)

router = APIRouter(prefix="/v1", tags=["proofs 负债证明"])
Seq = Annotated[int, Path(ge=1, le=2**31 - 1, description="检查点编号 / the checkpoint's number")]
SeqQuery = Annotated[
    int | None,
    Query(ge=1, le=2**31 - 1, description="检查点编号，默认最新 / the checkpoint, else the latest"),
]


def proof_filename(seq: int) -> str:
    """What the downloaded proof is called, here and on the member's page."""
    return f"jifen-proof-{seq}.json"


@router.get("/public/checkpoints", response_model=CheckpointPage)
def checkpoint_feed(ctx: Ctx, cursor: str | None = None, limit: Limit = 50) -> CheckpointPage:
    """检查点公示（只增不改，最早在前）/ the append-only feed of signed checkpoints, oldest
    first: each the document, its signature and its digest."""
    page = list_checkpoints(ctx, cursor=cursor, limit=limit)
    return CheckpointPage(
        items=[checkpoint_out(c.published()) for c in page.items], next_cursor=page.next_cursor
    )


@router.get("/public/checkpoints/latest", response_model=CheckpointOut)
def latest(ctx: Ctx) -> CheckpointOut:
    """最新检查点 / the latest signed checkpoint (404 before the first)."""
    found = latest_checkpoint(ctx)
    if found is None:
        raise CheckpointNotFound("尚无检查点 / no checkpoint yet", detail_key="none")
    return checkpoint_out(found.published())


@router.get("/public/checkpoints/{seq}", response_model=CheckpointOut)
def one_checkpoint(ctx: Ctx, seq: Seq) -> CheckpointOut:
    """某一检查点 / one signed checkpoint by its number."""
    return checkpoint_out(get_checkpoint(ctx, seq).published())


@router.get("/me/liability-proof", response_model=ProofFileOut)
def my_proof(ctx: Ctx, who: MemberCaller, checkpoint: SeqQuery = None) -> Response:
    """我的负债证明文件 / my proof file: my leaf and its path to the signed root, with the
    checkpoint and its signature (``tools/verify_proof.py`` checks it offline)."""
    assert who.member_id is not None
    proof = member_proof(ctx, who.member_id, checkpoint)
    return JSONResponse(
        ProofFileOut.model_validate(proof).model_dump(mode="json"),
        headers={
            "Content-Disposition": (
                f'attachment; filename="{proof_filename(proof["checkpoint"]["seq"])}"'
            )
        },
    )


@router.post("/checkpoints", response_model=CheckpointOut, status_code=201)
def take_now(request: Request, ctx: Ctx, who: Operator, key: IdemKey = None) -> JSONResponse:
    """立即做负债快照并签名 / take a liability snapshot and sign its checkpoint now, once per
    key (409 ``checkpoint.totals_differ`` if the balances do not add up to the ledger)."""
    return once_in_steps(
        request,
        who,
        key,
        None,
        lambda: checkpoint_out(take_checkpoint(ctx, idem_key=key).published()),
        201,
    )
