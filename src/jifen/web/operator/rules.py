"""The operator's rule versions: every version with its diff and reasons; drafting one (the
document as ``POST /v1/rules/drafts`` takes it, YAML or JSON) with the compliance linter's
findings shown beside the part of the document they are about; publishing with notice and a
reason; withdrawing an announced version.

Each write is the API's (``jifen.api.routes_operator``: ``create_draft``, ``publish``,
``withdraw``): the same rulebook call with the same arguments, through the same idempotency
mechanism keyed by the form. Nothing is decided here: the linter (``jifen.compliance``, run on
every version as it is read, ``jifen.app.rulebook.view``) and the publication gate (notice,
rights of issued points, the linter again, under lock) are the services'.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import Connection

from jifen import i18n
from jifen.api.routes_operator import VersionNumber
from jifen.api.schemas import PublishIn, RuleVersionOut, WithdrawIn, version_out
from jifen.app.context import Context
from jifen.app.rulebook import VersionView, view, views_at
from jifen.compliance import Finding, refused
from jifen.errors import JifenError
from jifen.rules import (
    MAX_REASON_CHARS,
    InvalidRules,
    NoRulesInForce,
    RuleDocument,
    VersionStatus,
    latest_published,
    load_document,
    status_at,
    version_at,
)
from jifen.settlement import reserve_status
from jifen.web import csrf
from jifen.web.access import OperatorPage
from jifen.web.operator._shared import china_midnight, china_today, form_key, once_from_form
from jifen.web.render import describe, language, page

router = APIRouter(include_in_schema=False)
DOCUMENT_CHARS = 200_000
Reason = Annotated[str, Form(max_length=MAX_REASON_CHARS)]
FormKey = Annotated[str, Form(max_length=128)]


def standing(ctx: Context, now: datetime) -> list[RuleVersionOut]:
    """Every version as it stands now (drafts included), as the API's list answers it."""
    return [version_out(v) for v in views_at(ctx.rulebook.versions(), now)]


def _view(ctx: Context, number: int) -> VersionView:
    v = ctx.rulebook.get(number)
    return view(v, status_at(v, ctx.rulebook.versions(), ctx.clock.now()))


@router.get("/operator/rules", response_class=HTMLResponse)
def versions(request: Request, who: OperatorPage) -> HTMLResponse:
    ctx: Context = request.app.state.ctx
    listed = standing(ctx, ctx.clock.now())
    return page(request, "operator/rules.html", who=who, versions=list(reversed(listed)))


# -- drafting -----------------------------------------------------------------------------------


def _document_text(document: RuleDocument) -> str:
    return json.dumps(document.model_dump(mode="json"), indent=2, ensure_ascii=False)


def _starting_document(ctx: Context, start: int | None) -> tuple[RuleDocument, int | None]:
    """What the draft form starts from: the version asked for (to fix a draft, or to start from
    an older one), else the version in force, else the default rules (a new alliance)."""
    if start is not None:
        return ctx.rulebook.get(start).document, start
    try:
        in_force = ctx.rulebook.in_force(ctx.clock.now())
    except NoRulesInForce:
        return RuleDocument(), None
    return in_force.document, in_force.number


def _draft_form(request: Request, who: Any, **ctx: Any) -> HTMLResponse:
    return page(
        request,
        "operator/rule_draft.html",
        who=who,
        status=ctx.pop("status", 200),
        text=ctx.pop("text"),
        start=ctx.pop("start", None),
        form_key=ctx.pop("key", None) or form_key(),
        error=ctx.pop("error", None),
        errors=ctx.pop("errors", []),
    )


@router.get("/operator/rules/draft", response_class=HTMLResponse)
def draft_form(request: Request, who: OperatorPage, start: int | None = None) -> HTMLResponse:
    ctx: Context = request.app.state.ctx
    document, number = _starting_document(ctx, start)
    return _draft_form(request, who, text=_document_text(document), start=number)


@router.post("/operator/rules/drafts", dependencies=[Depends(csrf.check)])
def save_draft(
    request: Request,
    who: OperatorPage,
    document: Annotated[str, Form(max_length=DOCUMENT_CHARS)],
    form_key: FormKey,
) -> Response:
    """Save the document as the next version's draft, then show it with its findings. A
    document that is not a valid rule set is not saved: the form comes back with every field
    error (path and message) beside the text as typed."""
    ctx: Context = request.app.state.ctx
    try:
        parsed = load_document(document)
    except InvalidRules as exc:
        errors = exc.context.get("errors") or []
        return _draft_form(
            request, who, status=422, text=document, key=form_key,
            error=describe(request, exc), errors=errors,
        )  # fmt: skip

    def run(tx: Connection) -> RuleVersionOut:
        return _out(ctx, ctx.rulebook.draft(parsed, ctx.clock.now(), conn=tx).number, tx)

    try:
        answer, _ = once_from_form(request, who, form_key, parsed, run)
    except JifenError as exc:
        return _draft_form(
            request, who, status=exc.status, text=document, key=form_key,
            error=describe(request, exc),
        )  # fmt: skip
    return RedirectResponse(f"/operator/rules/{answer['number']}", status_code=303)


# -- one version --------------------------------------------------------------------------------


def _finding(f: Finding, lang: str) -> dict[str, str]:
    """A finding as the page shows it: its explanation in the page's language (the linter's
    catalogue has both), its id, severity and path as the linter gave them."""
    explanation = f.explanation_en if lang == "en" else f.explanation_zh
    return {
        "id": f.id,
        "severity": f.severity.value,
        "refuses": "yes" if f.refuses else "",
        "path": f.path,
        "detail": f.detail,
        "basis": f.basis,
        "explanation": explanation,
    }


def _blocks(document: RuleDocument, findings: list[dict[str, str]]) -> list[dict[str, Any]]:
    """The document as its top-level parts, each with the findings about it beside it (a
    finding's path names the part: ``earn``, ``earn.campaigns[0]``…)."""
    blocks = []
    for key, value in document.model_dump(mode="json").items():
        text = f'"{key}": ' + json.dumps(value, indent=2, ensure_ascii=False)
        about = [f for f in findings if f["path"].split(".")[0].split("[")[0] == key]
        blocks.append({"key": key, "text": text, "findings": about})
    return blocks


def _earliest_day(ctx: Context, now: datetime) -> date:
    """The first whole China day a version published now may take effect on: past the longer
    of the notices promised by the rules in force and by the latest announced version (the
    rulebook checks the full rule; this only prefills the form)."""
    published = ctx.rulebook.published()
    try:
        in_force = version_at(published, now).document.notice_days
    except NoRulesInForce:
        return china_today(now)  # the first version ever published owes no notice
    latest = latest_published(published)
    notice = max(in_force, latest.document.notice_days if latest else 0)
    return china_today(now + timedelta(days=notice)) + timedelta(days=1)


def version_page(
    request: Request, who: Any, number: int, *, status: int = 200, **form: Any
) -> HTMLResponse:
    ctx: Context = request.app.state.ctx
    now = ctx.clock.now()
    seen = _view(ctx, number)
    findings = [_finding(f, language(request)) for f in seen.findings]
    blocks = _blocks(seen.version.document, findings)
    placed = [f for b in blocks for f in b["findings"]]
    earliest = _earliest_day(ctx, now)
    return page(
        request,
        "operator/rule.html",
        who=who,
        status=status,
        v=seen.version,
        state=seen.status.value,
        findings=findings,
        refused=refused(list(seen.findings)),
        blocks=blocks,
        loose=[f for f in findings if f not in placed],  # about the whole document
        earliest=earliest.isoformat(),
        effective_day=form.get("effective_day") or earliest.isoformat(),
        reason=form.get("reason", ""),
        form_key=form.get("key") or form_key(),
        error=form.get("error"),
        is_draft=seen.status is VersionStatus.DRAFT,
        announced=seen.status is VersionStatus.PUBLISHED,
    )


@router.get("/operator/rules/{number}", response_class=HTMLResponse)
def version(request: Request, who: OperatorPage, number: VersionNumber) -> HTMLResponse:
    return version_page(request, who, number)


@router.post("/operator/rules/{number}/publish", dependencies=[Depends(csrf.check)])
def publish(
    request: Request,
    who: OperatorPage,
    number: VersionNumber,
    effective_day: Annotated[date, Form()],
    reason: Reason,
    form_key: FormKey,
) -> Response:
    """公示: effective at the start of ``effective_day`` in China time. The rulebook refuses a
    date inside the notice owed, a version the linter refuses, and a reduction of issued
    points' rights; the refusal is shown on the version's page with what was typed."""
    ctx: Context = request.app.state.ctx
    typed = {"effective_day": effective_day.isoformat(), "reason": reason, "key": form_key}
    try:
        body = PublishIn(effective_at=china_midnight(effective_day), reason=reason)
    except ValidationError:
        return version_page(request, who, number, status=422, **typed,
                            error=_reason_error(request))  # fmt: skip

    def run(tx: Connection) -> RuleVersionOut:
        outstanding = reserve_status(ctx, conn=tx).outstanding_points > 0
        ctx.rulebook.publish(
            number,
            effective_at=body.effective_at,
            reason=body.reason,
            now=ctx.clock.now(),
            points_outstanding=outstanding,
            conn=tx,
        )
        return _out(ctx, number, tx)

    try:
        once_from_form(request, who, form_key, body, run)
    except JifenError as exc:
        return version_page(request, who, number, status=exc.status, **typed,
                            error=describe(request, exc))  # fmt: skip
    return RedirectResponse(f"/operator/rules/{number}", status_code=303)


@router.post("/operator/rules/{number}/withdraw", dependencies=[Depends(csrf.check)])
def withdraw(
    request: Request, who: OperatorPage, number: VersionNumber, reason: Reason, form_key: FormKey
) -> Response:
    """撤回: an announced version called back before it takes effect, with a public reason."""
    ctx: Context = request.app.state.ctx
    try:
        body = WithdrawIn(reason=reason)
    except ValidationError:
        return version_page(request, who, number, status=422, error=_reason_error(request))

    def run(tx: Connection) -> RuleVersionOut:
        ctx.rulebook.withdraw(number, reason=body.reason, now=ctx.clock.now(), conn=tx)
        return _out(ctx, number, tx)

    try:
        once_from_form(request, who, form_key, body, run)
    except JifenError as exc:
        return version_page(request, who, number, status=exc.status, error=describe(request, exc))
    return RedirectResponse(f"/operator/rules/{number}", status_code=303)


def _out(ctx: Context, number: int, tx: Connection) -> RuleVersionOut:
    v = ctx.rulebook.get(number, conn=tx)
    return version_out(view(v, status_at(v, ctx.rulebook.versions(conn=tx), ctx.clock.now())))


def _reason_error(request: Request) -> str:
    return i18n.text("web.operator.rules.reason_required", language(request))
