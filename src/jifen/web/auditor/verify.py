"""Verify now (立即校验): the auditor's one write. It records a verification run and nothing
else, exactly as ``POST /v1/audit/verifications`` does (``jifen.api.routes_auditor``): the same
``start_verification`` for the auditor (or the operator), the same background run after the
run's row is committed, the same report. Asking while a run is under way answers that run, so
a double click or a resubmitted form never starts two.
"""

from __future__ import annotations

import threading
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.responses import Response

from jifen.app.context import Context
from jifen.settlement import verifications
from jifen.web import csrf
from jifen.web.access import AuditorPage
from jifen.web.render import page

router = APIRouter(include_in_schema=False)
RUNS_PER_PAGE = 20
REFRESH_S = 2
"""While a run is under way its page reloads itself this often (a meta refresh: no script)."""
RunId = Annotated[str | None, Query(max_length=32)]


@router.post("/auditor/verify", dependencies=[Depends(csrf.check)])
async def verify_now(request: Request, who: AuditorPage) -> Response:
    ctx: Context = request.app.state.ctx
    run, new = await run_in_threadpool(verifications.start_verification, ctx, who.actor)
    if new:  # after the commit: the run's row is there to update (as the API does)
        threading.Thread(
            target=verifications.run_verification,
            args=(ctx, run.verification_id),
            name=f"jifen-verify-{run.verification_id}",
            daemon=True,
        ).start()
    return RedirectResponse(f"/auditor/verify?run={run.verification_id}", status_code=303)


@router.get("/auditor/verify", response_class=HTMLResponse)
def verify_page(request: Request, who: AuditorPage, run: RunId = None) -> HTMLResponse:
    """The form, and one run's report: the run asked for, else the latest (none before the
    first). ``GET /v1/audit/verifications/{id}`` answers the same run."""
    ctx: Context = request.app.state.ctx
    if run:
        shown: verifications.Verification | None = verifications.get_verification(ctx, run)
    else:
        latest = verifications.list_verifications(ctx, cursor=None, limit=1).items
        shown = latest[0] if latest else None
    return page(
        request,
        "auditor/verify.html",
        who=who,
        run=shown,
        refresh_s=REFRESH_S if shown and shown.state == "running" else None,
    )


@router.get("/auditor/verifications", response_class=HTMLResponse)
def runs(request: Request, who: AuditorPage, cursor: str | None = None) -> HTMLResponse:
    """Every run, newest first, with its outcome (``GET /v1/audit/verifications``)."""
    found = verifications.list_verifications(
        request.app.state.ctx, cursor=cursor, limit=RUNS_PER_PAGE
    )
    return page(
        request,
        "auditor/verifications.html",
        who=who,
        runs=found.items,
        next_cursor=found.next_cursor,
    )
