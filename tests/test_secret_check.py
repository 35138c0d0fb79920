"""A store recognises its secret when it opens: a wrong one is one clear refusal at start, never a
500 (`InvalidTag`) on the first read of a sealed phone number (issue 8, #17)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from datetime import UTC, datetime

import pytest
from sqlalchemy import delete, select, update

from jifen.alliance.members import enrol
from jifen.app import SecretMismatch, SimulatedClock, open_alliance, secret_recognised
from jifen.store import tables as t

T = datetime(2026, 3, 2, 2, tzinfo=UTC)
RIGHT, WRONG = "the-right-secret", "a-wrong-secret"


def jifen(*args: str, secret: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "JIFEN_SECRET": secret,
        "JIFEN_OPERATOR_KEY": "jfo_secret-check-0123456789",
    }
    return subprocess.run(
        [sys.executable, "-m", "jifen", *args], capture_output=True, text=True, timeout=120, env=env
    )


def settings(engine: object) -> dict[str, str]:
    with engine.connect() as conn:  # type: ignore[attr-defined]
        return dict(conn.execute(select(t.settings.c.name, t.settings.c.value)).all())


def store_with_a_member(db_url: str) -> None:
    ctx = open_alliance(db_url, secret=RIGHT, clock=SimulatedClock(T))
    enrol(ctx, "13800138000", {"terms": True, "privacy": True}, T)
    ctx.engine.dispose()


def test_the_store_keeps_a_check_value_not_the_secret(db_url: str) -> None:
    ctx = open_alliance(db_url, secret=RIGHT, clock=SimulatedClock(T))
    check = settings(ctx.engine)["secret.check"]
    assert len(check) == 64 and RIGHT not in check
    assert check not in {hashlib.sha256(RIGHT.encode()).hexdigest(), RIGHT.encode().hex()}
    assert secret_recognised(ctx)
    ctx.engine.dispose()


def test_opening_with_another_secret_is_refused_with_one_clear_line(db_url: str) -> None:
    store_with_a_member(db_url)
    with pytest.raises(SecretMismatch) as refused:
        open_alliance(db_url, secret=WRONG)
    assert refused.value.code == "secret.mismatch"
    assert " / " in refused.value.message and "JIFEN_SECRET" in refused.value.message
    ctx = open_alliance(db_url, secret=RIGHT)  # the right one still opens it
    assert secret_recognised(ctx)
    ctx.engine.dispose()


@pytest.mark.parametrize("command", [["jobs", "run"], ["serve", "--jobs-every", "0"]])
def test_serve_and_jobs_refuse_a_wrong_secret_at_start(db_url: str, command: list[str]) -> None:
    store_with_a_member(db_url)
    refused = jifen(*command, "--db", db_url, secret=WRONG)
    assert refused.returncode == 2
    assert refused.stderr.startswith("error[secret.mismatch]: ")
    assert refused.stderr.strip().count("\n") == 0
    assert "Traceback" not in refused.stderr and "InvalidTag" not in refused.stderr


def test_a_store_sealed_before_check_values_learns_only_the_secret_that_opens_it(
    db_url: str,
) -> None:
    store_with_a_member(db_url)
    ctx = open_alliance(db_url, secret=RIGHT)
    with ctx.writer.begin() as conn:  # as a store from before issue 8 has it: no check value
        conn.execute(delete(t.settings).where(t.settings.c.name == "secret.check"))
    with pytest.raises(SecretMismatch):
        open_alliance(db_url, secret=WRONG)
    assert "secret.check" not in settings(ctx.engine)  # the wrong secret was not recorded
    again = open_alliance(db_url, secret=RIGHT)
    assert again.secrets.recognises(settings(ctx.engine)["secret.check"])
    for c in (ctx, again):
        c.engine.dispose()


def test_secret_recognised_reports_a_check_value_that_changed_under_a_running_process(
    db_url: str,
) -> None:
    ctx = open_alliance(db_url, secret=RIGHT, clock=SimulatedClock(T))
    assert secret_recognised(ctx)
    with ctx.writer.begin() as conn:
        conn.execute(
            update(t.settings).where(t.settings.c.name == "secret.check").values(value="0" * 64)
        )
    assert not secret_recognised(ctx)
    ctx.engine.dispose()
