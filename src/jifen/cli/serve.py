"""``jifen serve``: the HTTP API over a store, with the daily jobs on a schedule."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from jifen.app import SimulatedClock
from jifen.cli._options import DbOption, ProviderOption
from jifen.cli._output import announce_clock, announce_start, err, say
from jifen.cli._serve_app import ENV, WorkerConfig
from jifen.cli._sms import SmsChoice, announce_sms, open_sms

__all__ = ["serve"]


def serve(
    db: DbOption = None,
    host: Annotated[str, typer.Option(help="bind address")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    jobs_every: Annotated[
        float, typer.Option(help="seconds between scheduled job runs; 0 turns them off")
    ] = 60.0,
    provider: ProviderOption = None,
    public_url: Annotated[
        str | None,
        typer.Option(
            help="Jifen's public address: where the payment provider's notifications and "
            "members' share links go "
            "[default http://HOST:PORT]"
        ),
    ] = None,
    money_every: Annotated[
        float, typer.Option(help="seconds between passes of the money path (with --provider)")
    ] = 5.0,
    webhooks_every: Annotated[
        float, typer.Option(help="seconds between webhook delivery passes; 0 turns them off")
    ] = 5.0,
    simulated_clock: Annotated[
        str | None,
        typer.Option(
            help="demo/test only: start a settable clock at this ISO time (PUT /v1/clock)"
        ),
    ] = None,
    workers: Annotated[
        int,
        typer.Option(
            min=1, max=64, help="HTTP worker processes (the jobs run in this one process only)"
        ),
    ] = 1,
    group_window_ms: Annotated[
        float,
        typer.Option(
            min=0, max=1000, help="group commit: how long a group of writes waits for company"
        ),
    ] = 2.0,
    group_max: Annotated[
        int,
        typer.Option(min=1, max=1000, help="group commit: writes per group at most (1: off)"),
    ] = 64,
    sms: Annotated[
        SmsChoice,
        typer.Option(envvar="JIFEN_SMS", help="who texts members their sign-in codes"),
    ] = SmsChoice.none,
    sms_credentials: Annotated[
        Path | None,
        typer.Option(envvar="JIFEN_SMS_CREDENTIALS", help="--sms aliyun: its credentials JSON"),
    ] = None,
) -> None:
    """Run the HTTP API 启动接口服务 (OpenAPI at /docs); jobs (and, with --provider, the money
    path) run on a schedule."""
    import os
    import secrets as pysecrets

    import uvicorn

    from jifen.alliance.merchants import add_operator_key
    from jifen.api.observability import configure_logging
    from jifen.app import open_alliance
    from jifen.cli.funds import open_funds
    from jifen.jobs.scheduler import MoneyLoop, Scheduler, WebhookLoop
    from jifen.web import create_site

    clock = _simulated_clock(simulated_clock)
    # the provider's credentials first: a broken file refuses to start before anything opens
    funds = open_funds(provider, public_url or f"http://{host}:{port}") if provider else None
    sender = open_sms(sms, sms_credentials)
    # a fresh store becomes simulated; a simulated one keeps its clock even without the flag
    ctx = open_alliance(db, clock=clock)  # a refusal (wrong secret, clock) is one plain line
    announce_clock(ctx, clock.now() if clock else None)
    announce_start(ctx, f"http://{host}:{port}", jobs_every, workers)
    announce_sms(ctx, sender)
    configure_logging()  # from here on, JSON lines on stderr (docs/operations.md)
    key = os.environ.get("JIFEN_OPERATOR_KEY")
    if not key:
        key = "jfo_" + pysecrets.token_urlsafe(32)
        say(err, f"运营方密钥 operator key (shown once; set JIFEN_OPERATOR_KEY to choose): {key}")
    add_operator_key(ctx, key, ctx.clock.now())
    if funds is not None:
        err.print(
            f"支付机构 payment provider: {funds.provider.name}, notifications at {funds.notify_url}"
        )
    config = WorkerConfig(
        db=ctx.engine.url.render_as_string(hide_password=False),
        provider=str(provider) if provider else None,
        public_url=public_url or f"http://{host}:{port}",
        group_window_s=group_window_ms / 1000,
        group_max=group_max,
        sms=sms.value,
        sms_credentials=str(sms_credentials) if sms_credentials else None,
    )
    if workers > 1 and isinstance(ctx.clock, SimulatedClock):
        ctx.engine.dispose()
        raise typer.BadParameter(
            "--workers > 1 needs the real clock: a simulated clock lives in one process "
            "(模拟时钟只能单进程)",
            param_hint="--workers",
        )
    web = config.web(sender)
    api = create_site(ctx, web=web, funds=funds, group=config.group())
    scheduler = Scheduler(ctx, jobs_every) if jobs_every > 0 else None
    if scheduler:
        scheduler.observers.append(api.state.metrics.job_run)
        scheduler.start()
    money = MoneyLoop(ctx, funds, money_every) if funds is not None and money_every > 0 else None
    if money:
        money.start()
    hooks = WebhookLoop(ctx, webhooks_every) if webhooks_every > 0 else None
    if hooks:
        hooks.start()
    try:
        # log_config=None: uvicorn keeps the JSON logging above; its access log is off, as it
        # would print query strings (each request is logged by the app, without them)
        if workers == 1:
            uvicorn.run(api, host=host, port=port, log_config=None, access_log=False)
        else:  # each worker builds its own app (and group committer) from the same config
            os.environ[ENV] = config.to_env()
            uvicorn.run(
                "jifen.cli._serve_app:worker_app", factory=True, workers=workers,
                host=host, port=port, log_config=None, access_log=False,
            )  # fmt: skip
    finally:
        if hooks:
            hooks.stop()
        if money:
            money.stop()
        if scheduler:
            scheduler.stop()
        ctx.engine.dispose()


def _simulated_clock(start_text: str | None) -> SimulatedClock | None:
    """``--simulated-clock``: a settable clock from an ISO time that names its zone."""
    if not start_text:
        return None
    try:
        start = datetime.fromisoformat(start_text)
    except ValueError as exc:
        raise typer.BadParameter("--simulated-clock must be an ISO time with a zone") from exc
    if start.tzinfo is None:
        raise typer.BadParameter("--simulated-clock must carry a time zone")
    return SimulatedClock(start)
