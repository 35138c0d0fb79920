"""The app each ``jifen serve --workers N`` process serves: uvicorn imports ``worker_app`` in
every worker it starts, so what the parent chose (store, provider, group commit) travels in one
environment variable, and each worker opens the store and its group committer for itself.

The parent keeps the scheduler and the money loop: they run in exactly one process, whatever
``N`` is (two daily closes racing would be refused by the ledger's keys, but would waste work and
fill the logs with refusals)."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from jifen.app import GroupSettings

if TYPE_CHECKING:
    from fastapi import FastAPI

    from jifen.sms import SmsSender
    from jifen.web import WebSettings

ENV = "JIFEN_SERVE_WORKER"


@dataclass(frozen=True)
class WorkerConfig:
    db: str
    provider: str | None
    public_url: str
    group_window_s: float
    group_max: int
    sms: str | None = None
    sms_credentials: str | None = None

    def group(self) -> GroupSettings | None:
        """No group commit when a group may hold one unit of work only (``--group-max 1``)."""
        if self.group_max <= 1:
            return None
        return GroupSettings(window_s=self.group_window_s, max_works=self.group_max)

    def web(self, sms: SmsSender | None) -> WebSettings:
        """The consoles' settings: secure cookies and the share links' address from the public
        URL, members' sign-in codes through ``sms``."""
        from jifen.web import WebSettings, cookies_secure_for

        secure = cookies_secure_for(self.public_url)
        return WebSettings(cookie_secure=secure, sms=sms, public_url=self.public_url)

    def to_env(self) -> str:
        return json.dumps(asdict(self))


def worker_app() -> FastAPI:
    """uvicorn's app factory in a worker process (``jifen.cli._serve_app:worker_app``)."""
    from jifen.api.observability import configure_logging
    from jifen.app import open_alliance
    from jifen.cli._sms import open_sms
    from jifen.cli.funds import open_funds
    from jifen.web import create_site

    config = WorkerConfig(**json.loads(os.environ[ENV]))
    funds = open_funds(Path(config.provider), config.public_url) if config.provider else None
    ctx = open_alliance(config.db)
    configure_logging()
    credentials = Path(config.sms_credentials) if config.sms_credentials else None
    sms = open_sms(config.sms, credentials)
    web = config.web(sms)
    return create_site(ctx, web=web, funds=funds, group=config.group())
