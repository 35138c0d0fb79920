"""A store URL is taken apart in one place (issue 9): ``jifen.store.sqlite_path`` names the file
an embedded store lives in, and ``require_existing`` refuses a missing one. The CLI, the secret
file beside a store and the demo all go through them."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from jifen.app import Secrets
from jifen.app.errors import SecretMissing
from jifen.demo import open_demo, timeline
from jifen.store import StoreUnavailable, normalize_url, require_existing, sqlite_path


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:///jifen.db", Path("jifen.db")),
        ("sqlite:///./books/jifen.db", Path("books/jifen.db")),
        ("sqlite:////var/lib/jifen.db", Path("/var/lib/jifen.db")),
        (normalize_url("./x.db"), Path("x.db")),
        ("sqlite:///:memory:", None),  # in memory: no file to replace, check or keep a secret by
        ("sqlite:///", None),  # SQLAlchemy's other spelling of an in-memory SQLite
        (normalize_url("postgresql://u@127.0.0.1/jifen"), None),
    ],
)
def test_sqlite_path_is_the_file_of_an_embedded_store_and_none_for_any_other(
    url: str, path: Path | None
) -> None:
    assert sqlite_path(url) == path


def test_a_missing_sqlite_file_is_refused_naming_it_and_not_created(tmp_path: Path) -> None:
    missing = tmp_path / "nothing-here.db"
    with pytest.raises(StoreUnavailable) as refused:
        require_existing(str(missing), what="ledger")
    assert refused.value.message == f"no ledger at {missing} (run `jifen demo` first; 账本不存在)"
    assert not missing.exists()
    with pytest.raises(StoreUnavailable, match=r": no store at :memory: \("):
        require_existing("sqlite:///:memory:")  # an in-memory store never exists beforehand


def test_an_existing_file_and_a_server_url_pass_as_normalized_urls(tmp_path: Path) -> None:
    books = tmp_path / "books.db"
    books.touch()
    assert require_existing(str(books)) == f"sqlite:///{books}"
    # a server store is checked when it is reached, not here: nothing listens on port 1
    assert require_existing("postgresql://nobody@127.0.0.1:1/none") == (
        "postgresql+psycopg://nobody@127.0.0.1:1/none"
    )


def test_an_in_memory_demo_store_leaves_no_secret_file_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It once wrote ``:memory:.secret`` into the working directory."""
    monkeypatch.chdir(tmp_path)
    ctx = open_demo("sqlite:///:memory:", timeline(datetime.now(UTC), 3))
    ctx.engine.dispose()
    assert list(tmp_path.iterdir()) == []


def test_an_in_memory_store_has_no_secret_file_to_fall_back_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("JIFEN_SECRET", raising=False)
    for url in ("sqlite:///:memory:", "sqlite:///"):
        with pytest.raises(SecretMissing):
            Secrets.load(db_url=url)
    assert list(tmp_path.iterdir()) == []
    books = Secrets.load(db_url=f"sqlite:///{tmp_path / 'books.db'}")
    assert (tmp_path / "books.db.secret").read_text().encode() == books.master


@pytest.mark.parametrize(("command", "noun"), [(["verify"], "ledger"), (["jobs", "run"], "store")])
def test_the_cli_refuses_a_missing_store_with_the_same_line_as_ever(
    command: list[str], noun: str, tmp_path: Path
) -> None:
    missing = tmp_path / "none.db"
    result = subprocess.run(
        [sys.executable, "-m", "jifen", *command, "--db", str(missing)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr == (
        f"error[store.unavailable]: no {noun} at {missing} (run `jifen demo` first; 账本不存在)\n"
    )
    assert result.stdout == "" and not missing.exists()
