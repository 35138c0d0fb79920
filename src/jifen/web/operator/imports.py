"""CSV imports of merchants and of members, from a file chosen in the browser: a dry run first,
which shows every row's result (or every row's error), then the real run of the same file.

The service is the API's (``jifen.alliance.imports``, ``POST /v1/imports/…``): all or nothing, at
most ``MAX_ROWS`` rows, an unchanged row a no-op, so applying the same file twice writes nothing
the second time (which is also what makes a double click harmless). The dry run's page carries
the file's text in its apply form, so what is applied is exactly what was checked; it is checked
again as it is applied.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

from jifen.alliance import imports
from jifen.alliance.errors import ImportRefused
from jifen.api.limits import MAX_BODY_BYTES
from jifen.app.context import Context
from jifen.web import csrf
from jifen.web.access import OperatorPage
from jifen.web.render import page

router = APIRouter(include_in_schema=False)
Kind = Literal["merchants", "members"]
IMPORTERS = {"merchants": imports.import_merchants, "members": imports.import_members}
COLUMNS = {
    "merchants": (imports.MERCHANT_COLUMNS, imports.MERCHANT_OPTIONAL),
    "members": (imports.MEMBER_COLUMNS, imports.MEMBER_OPTIONAL),
}


@router.get("/operator/imports", response_class=HTMLResponse)
def import_forms(request: Request, who: OperatorPage) -> HTMLResponse:
    return page(
        request, "operator/imports.html", who=who, columns=COLUMNS, max_rows=imports.MAX_ROWS
    )


def _result(
    request: Request, who: Any, kind: str, report: Any, text: str, *, status: int = 200
) -> HTMLResponse:
    return page(
        request,
        "operator/import_result.html",
        who=who,
        status=status,
        kind=kind,
        report=report,
        text=text,
        max_rows=imports.MAX_ROWS,
    )


@router.post("/operator/imports/{kind}/check", dependencies=[Depends(csrf.check)])
async def dry_run(
    request: Request, who: OperatorPage, kind: Kind, file: Annotated[UploadFile, File()]
) -> HTMLResponse:
    """The dry run: every row checked against the file and the store, nothing written."""
    data = await file.read(MAX_BODY_BYTES + 1)
    return await _run(request, who, kind, data, dry_run=True)


@router.post("/operator/imports/{kind}/apply", dependencies=[Depends(csrf.check)])
async def apply(
    request: Request,
    who: OperatorPage,
    kind: Kind,
    text: Annotated[str, Form(max_length=MAX_BODY_BYTES)],
) -> HTMLResponse:
    """The real run of the file the dry run showed: all rows written in one transaction, or
    (a row gone wrong since) none, with every error shown."""
    return await _run(request, who, kind, text.encode(), dry_run=False)


async def _run(
    request: Request, who: Any, kind: str, data: bytes, *, dry_run: bool
) -> HTMLResponse:
    ctx: Context = request.app.state.ctx
    importer = IMPORTERS[kind]
    text = data.decode("utf-8-sig", errors="replace")
    try:
        report = await run_in_threadpool(
            lambda: importer(ctx, data, dry_run=dry_run, now=ctx.clock.now())
        )
    except ImportRefused as exc:  # the real run found errors: nothing written, each shown
        refused = imports.ImportReport(
            kind, False, False, 0, 0, 0, [], [imports.RowError(**e) for e in exc.context["errors"]]
        )
        return _result(request, who, kind, refused, text, status=422)
    return _result(request, who, kind, report, text, status=422 if report.errors else 200)
