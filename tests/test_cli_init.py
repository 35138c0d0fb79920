"""`jifen init` creates a production store and its secret (issue 12): SQLite or PostgreSQL (the
database created when the server lets it), on the real clock, never over a store that exists;
and a store refuses, at start and in one line, a secret that is not its own or one gone missing
(never a new secret file written over the loss)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from conftest import PG_URL
from jifen.app import SimulatedClock, SystemClock, open_alliance
from jifen.errors import JifenError
from jifen.store import normalize_url


def jifen(*args: str, cwd: Path, secret: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("JIFEN_SECRET", "JIFEN_DB")}
    env["JIFEN_OPERATOR_KEY"] = "jfo_init-test-0123456789abcdef"
    if secret is not None:
        env["JIFEN_SECRET"] = secret
    return subprocess.run(
        [sys.executable, "-m", "jifen", *args],
        capture_output=True, text=True, timeout=120, env=env, cwd=cwd,
    )  # fmt: skip


def one_line_refusal(result: subprocess.CompletedProcess[str], code: str) -> None:
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(f"error[{code}]: "), result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


def test_init_creates_a_sqlite_store_with_its_secret_beside_it(tmp_path: Path) -> None:
    made = jifen("init", "--db", "prod.db", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    secret = tmp_path / "prod.db.secret"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert "prod.db.secret" in made.stdout and "jifen serve --db prod.db" in made.stdout
    ctx = open_alliance(str(tmp_path / "prod.db"), secret=secret.read_text().strip())
    assert isinstance(ctx.clock, SystemClock)  # a production store: the real clock, for life
    ctx.engine.dispose()
    with pytest.raises(JifenError) as refused:
        open_alliance(str(tmp_path / "prod.db"), clock=SimulatedClock(ctx.clock.now()))
    assert refused.value.code == "clock.mismatch"
    one_line_refusal(jifen("init", "--db", "prod.db", cwd=tmp_path), "init.store_in_use")
    assert (tmp_path / "prod.db.secret").read_text() == secret.read_text()  # untouched


def test_serve_refuses_at_start_a_store_whose_secret_file_has_gone(tmp_path: Path) -> None:
    assert jifen("init", "--db", "prod.db", cwd=tmp_path).returncode == 0
    secret = tmp_path / "prod.db.secret"
    kept = secret.read_text()
    one_line_refusal(
        jifen("serve", "--db", "prod.db", "--jobs-every", "0", cwd=tmp_path, secret="another"),
        "secret.mismatch",
    )
    secret.unlink()
    gone = jifen("serve", "--db", "prod.db", "--jobs-every", "0", cwd=tmp_path)
    one_line_refusal(gone, "secret.missing")
    assert "prod.db.secret" in gone.stderr
    assert not secret.exists()  # no new secret written in its place: restoring it still works
    secret.write_text(kept)
    ctx = open_alliance(str(tmp_path / "prod.db"))
    ctx.engine.dispose()


def _init_on_postgresql(tmp_path: Path) -> None:
    """`jifen init --db postgresql://…/NEW` creates NEW and writes its secret to a file."""
    assert PG_URL is not None
    name = f"jifen_init_{uuid.uuid4().hex[:10]}"
    url = make_url(normalize_url(PG_URL)).set(database=name)
    typed = url.render_as_string(hide_password=False).replace("+psycopg", "")
    admin = create_engine(make_url(normalize_url(PG_URL)), isolation_level="AUTOCOMMIT")
    try:
        made = jifen("init", "--db", typed, cwd=tmp_path)
        assert made.returncode == 0, made.stderr
        assert "(database created)" in made.stdout
        secret = tmp_path / f"jifen-{name}.secret"
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600
        assert f'JIFEN_SECRET="$(cat jifen-{name}.secret)" jifen serve' in made.stdout
        ctx = open_alliance(typed, secret=secret.read_text().strip())
        assert isinstance(ctx.clock, SystemClock)
        ctx.engine.dispose()
        one_line_refusal(
            jifen("serve", "--db", typed, "--jobs-every", "0", cwd=tmp_path, secret="wrong"),
            "secret.mismatch",
        )
        one_line_refusal(jifen("serve", "--db", typed, cwd=tmp_path), "secret.missing")
        one_line_refusal(jifen("init", "--db", typed, cwd=tmp_path), "init.store_in_use")
        # the demo refuses it too, and would create a database of its own just the same
        one_line_refusal(jifen("demo", "--db", typed, cwd=tmp_path), "demo.store_in_use")
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if PG_URL:  # run on PostgreSQL when JIFEN_TEST_PG is set, as every store test is (CI sets it)

    def test_init_creates_the_postgresql_database_and_writes_its_secret(tmp_path: Path) -> None:
        _init_on_postgresql(tmp_path)
