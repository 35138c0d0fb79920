"""My proof of liabilities (我的负债证明, docs/transparency.md): my balance as the latest signed
checkpoint counted it, that checkpoint's number, root and total, the proof file to download, and
the one command that checks it offline. The same service call as ``GET /v1/me/liability-proof``
(jifen.api.routes_checkpoints); the member id comes from the session only."""

from __future__ import annotations

import json

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.exceptions import HTTPException

from jifen.api.auth import Caller
from jifen.api.routes_checkpoints import proof_filename
from jifen.proofs import ProofNotFound, latest_checkpoint, member_proof
from jifen.web.access import MemberPage
from jifen.web.public.checkpoints import checkpoint_view, verifier_path
from jifen.web.render import page

router = APIRouter(include_in_schema=False)


def _member(who: Caller) -> str:
    assert who.member_id is not None
    return who.member_id


def verify_command(seq: int, root: str, total: int) -> str:
    """What the member types, with this checkpoint's published root and total filled in."""
    return f"python3 verify_proof.py {proof_filename(seq)} --root {root} --total {total}"


@router.get("/me/proof", response_class=HTMLResponse)
def proof_page(request: Request, who: MemberPage) -> HTMLResponse:
    ctx = request.app.state.ctx
    latest = latest_checkpoint(ctx)
    balance = None
    if latest is not None:
        try:
            proof = member_proof(ctx, _member(who), latest.seq)
            balance = int(proof["proof"]["balance"])
        except ProofNotFound:
            balance = None
    view = checkpoint_view(latest) if latest is not None else None
    return page(
        request,
        "member/proof.html",
        who=who,
        checkpoint=view,
        balance=balance,
        filename=proof_filename(view.seq) if view else None,
        command=verify_command(view.seq, view.root, view.total) if view else None,
        verifier=verifier_path(),
        nav="proof",
    )


@router.get("/me/proof.json")
def proof_file(request: Request, who: MemberPage) -> Response:
    """The latest proof file, as an attachment (the missing page when there is none: the proof
    page then says why, and shows no download)."""
    try:
        proof = member_proof(request.app.state.ctx, _member(who))
    except ProofNotFound:
        raise HTTPException(404) from None
    return Response(
        json.dumps(proof, ensure_ascii=False, indent=2),
        media_type="application/json",
        headers={
            "Content-Disposition": (
                f'attachment; filename="{proof_filename(proof["checkpoint"]["seq"])}"'
            ),
            "Cache-Control": "no-store",
        },
    )
