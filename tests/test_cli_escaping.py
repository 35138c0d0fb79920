"""What `jifen verify` prints from stored data is printed as stored: no Rich markup, no emoji
codes, no control characters or ANSI escapes from the data; and a tampered lane tip says what
differs (issue 8, #21). The real CLI, as a terminal would run it, on a tampered store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest
from sqlalchemy import select, update

from jifen.ledger import _tables as t
from jifen.store import make_engine
from test_cli import jifen

TINY = ["--members", "8", "--orders", "60", "--days", "12", "--cash"]  # escaping, not money
EVIL = "[red]x\x1b[31mevil\u202e:cinema:"  # markup, an ANSI escape, a bidi override, an emoji
SHOWN = "[red]x\\x1b[31mevil\\u202e:cinema:"  # how it must appear: every character visible
FAKE_TIP = "f" * 64


def verify_on_a_terminal(db_url: str) -> str:
    """`jifen verify` as a colour terminal runs it (Rich emits its own styles, ANSI and all)."""
    env = {**os.environ, "FORCE_COLOR": "1", "COLUMNS": "120", "TERM": "xterm-256color"}
    result = subprocess.run(
        [sys.executable, "-m", "jifen", "verify", "--db", db_url],
        capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout


@pytest.fixture
def demo_store(db_url: str) -> Iterator[str]:
    demo = jifen("demo", "--db", db_url, *TINY)
    assert demo.returncode == 0, demo.stdout + demo.stderr
    yield db_url


def test_account_names_and_merchants_from_the_store_are_printed_literally(
    demo_store: str,
) -> None:
    engine = make_engine(demo_store)
    with engine.begin() as conn:
        leg = conn.execute(  # the earliest: its business day is closed, so it has a statement
            select(t.legs.c.entry_id, t.legs.c.leg_no, t.legs.c.account_id)
            .join(t.entries, t.entries.c.entry_id == t.legs.c.entry_id)
            .where(t.legs.c.account_id.like("merchant:%:cny"))
            .order_by(t.entries.c.at, t.legs.c.entry_id)
            .limit(1)
        ).one()
        conn.execute(
            update(t.legs)
            .where(t.legs.c.entry_id == leg.entry_id, t.legs.c.leg_no == leg.leg_no)
            .values(account_id=f"merchant:{EVIL}:cny")
        )
        conn.execute(
            update(t.balances)
            .where(t.balances.c.account_id == "merchant:cinema:accepted")
            .values(amount=t.balances.c.amount + 7)
        )
    engine.dispose()
    shown = verify_on_a_terminal(demo_store)
    assert f"merchant:{SHOWN}:cny" in shown  # [leg.unknown_account], [balance.mismatch]
    assert f"merchant {SHOWN}, business day" in shown  # [statement.missing], the merchant named
    assert "merchant:cinema:accepted: stored" in shown
    assert "\U0001f3a6" not in shown  # :cinema: stays text, never the 🎦 emoji
    assert "x\x1b[31mevil" not in shown and "\u202e" not in shown
    raw = jifen("verify", "--db", demo_store, "--json").stdout
    assert "\x1b" not in raw and "\u202e" not in raw  # escaped in the JSON text ...
    messages = [str(f["message"]) for f in json.loads(raw)["findings"]]
    assert any(f"merchant:{EVIL}:cny" in m for m in messages)  # ... and exact in its value


def test_a_tampered_lane_tip_says_which_hash_differs(demo_store: str) -> None:
    engine = make_engine(demo_store)
    with engine.begin() as conn:
        lane = conn.execute(
            select(t.chains).order_by(t.chains.c.height.desc(), t.chains.c.chain_id).limit(1)
        ).one()
        conn.execute(
            update(t.chains).where(t.chains.c.chain_id == lane.chain_id).values(tip_hash=FAKE_TIP)
        )
    engine.dispose()
    shown = verify_on_a_terminal(demo_store)
    (line,) = [x for x in shown.splitlines() if "chain.tip_mismatch" in x]
    assert f"lane tip says hash {FAKE_TIP} but the last block's is {lane.tip_hash}" in line
    assert "height" not in line.split("lane tip says", 1)[1]  # the heights agree: not said
