"""Proof of liabilities on the consoles (issue 15): the latest signed checkpoint on the public
liabilities page, the feed page (newest first, paged), and a member's proof page, in both
languages with the API's own figures; the proof file the member downloads verifies with
``tools/verify_proof.py`` run as a member would, with the command the page shows."""

from __future__ import annotations

import html
import json
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete

from jifen.proofs import take_checkpoint
from jifen.store import tables as t
from jifen.web.public.checkpoints import FEED_PAGE
from tools_kit import Tools
from web_kit import Browser, site_alliance

VERIFIER = Path(__file__).parent.parent / "tools" / "verify_proof.py"


def _testid(page: str, testid: str) -> list[str]:
    """The text inside every element with ``data-testid=testid`` (tags stripped)."""
    found = re.findall(rf'data-testid="{testid}"[^>]*>(.*?)</', page, re.S)
    return [html.unescape(re.sub(r"<[^>]+>", "", f)).strip() for f in found]


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Tools]:
    with site_alliance(f"sqlite:///{tmp_path / 'proofs.db'}") as tools:
        yield tools


def _take(tools: Tools, key: str) -> dict[str, Any]:
    with tools.server.operator() as op:
        r = op.post("/v1/checkpoints", headers={"Idempotency-Key": key})
    assert r.status_code == 201, r.text
    return dict(r.json())


def test_before_the_first_checkpoint_every_page_says_so(site: Tools) -> None:
    with site.server.ctx.writer.begin() as conn:  # a store before its first daily snapshot
        for table in (t.checkpoint_nodes, t.checkpoint_members, t.checkpoints):
            conn.execute(delete(table))
    for lang in ("zh-CN", "en"):
        anyone = Browser(site.server, lang)
        for path in ("/liabilities", "/checkpoints"):
            assert _testid(anyone.page(path), "no-checkpoint"), (lang, path)
        member = Browser(site.server, lang)
        member.as_member(site.members[0])
        page = member.page("/me/proof")
        assert _testid(page, "no-checkpoint") and "proof-download" not in page
        assert member.get("/me/proof.json").status_code == 404


def test_the_liabilities_page_shows_the_latest_checkpoint_as_the_api_publishes_it(
    site: Tools,
) -> None:
    _take(site, "cp-0")
    published = _take(site, "cp-1")
    doc, signature = published["checkpoint"], published["signature"]
    snap = doc["snapshot"]
    for lang in ("zh-CN", "en"):
        page = Browser(site.server, lang).page("/liabilities")
        assert _testid(page, "checkpoint-seq") == [str(doc["seq"])]
        assert _testid(page, "checkpoint-total") == [f"{snap['total']:,}"]
        assert _testid(page, "checkpoint-members") == [str(snap["members"])]
        assert _testid(page, "checkpoint-root") == [snap["root"]]
        assert _testid(page, "checkpoint-algorithm") == [signature["algorithm"]]
        assert _testid(page, "checkpoint-key-id") == [signature["key_id"]]
        assert _testid(page, "checkpoint-public-key") == [signature["public_key"]]
        fen = snap["liability_fen"]
        assert _testid(page, "checkpoint-liability") == [f"¥{fen // 100:,}.{fen % 100:02d}"]
        assert 'href="/v1/public/checkpoints/latest"' in page and 'href="/checkpoints"' in page
        assert _testid(page, "checkpoint-explained")[0]
    en = Browser(site.server, "en").page("/liabilities")
    assert "On demand" in _testid(en, "checkpoint-day")[0]  # taken by the operator, not a day


def test_the_feed_page_lists_checkpoints_newest_first_a_page_at_a_time(site: Tools) -> None:
    for i in range(FEED_PAGE + 1):
        take_checkpoint(site.server.ctx, idem_key=f"feed-{i}")
    with site.server.client() as anyone:
        feed = anyone.get("/v1/public/checkpoints", params={"limit": 100}).json()["items"]
    seqs = [c["checkpoint"]["seq"] for c in feed]
    b = Browser(site.server, "en")
    first = b.page("/checkpoints")
    rows = re.findall(r'data-testid="checkpoint-row" data-seq="(\d+)"', first)
    assert [int(s) for s in rows] == seqs[::-1][:FEED_PAGE]
    older = re.search(r'href="(/checkpoints\?upto=\d+)" data-testid="checkpoint-older"', first)
    assert older
    rest = b.page(html.unescape(older[1]))
    assert [int(s) for s in re.findall(r'data-seq="(\d+)"', rest)] == seqs[::-1][FEED_PAGE:]
    assert "checkpoint-older" not in rest
    root = feed[-1]["checkpoint"]["snapshot"]["root"]
    assert f'title="{root}"' in first and f"{root[:16]}…" in first
    assert f'href="/v1/public/checkpoints/{seqs[-1]}"' in first
    assert re.search(r"[\u4e00-\u9fff]", Browser(site.server, "zh-CN").page("/checkpoints"))


def test_a_members_proof_page_and_file_verify_with_the_script_the_page_names(
    site: Tools, tmp_path: Path
) -> None:
    published = _take(site, "cp-1")
    snap, seq = published["checkpoint"]["snapshot"], published["checkpoint"]["seq"]
    me, other = site.members
    with site.alliance.member(me) as api:
        want = api.get("/v1/me/liability-proof").json()["proof"]["balance"]
    assert want > 0
    for lang in ("zh-CN", "en"):
        b = Browser(site.server, lang)
        b.as_member(me)
        assert 'href="/me/proof"' in b.page("/me")  # linked beside the other member pages
        page = b.page("/me/proof")
        assert _testid(page, "proof-balance") == [f"{want:,}"]
        assert _testid(page, "checkpoint-seq") == [str(seq)]
        assert _testid(page, "checkpoint-total") == [f"{snap['total']:,}"]
        assert _testid(page, "checkpoint-root") == [snap["root"]]
        command = _testid(page, "verify-command")[0]
        assert command == (
            f"python3 verify_proof.py jifen-proof-{seq}.json --root {snap['root']} "
            f"--total {snap['total']}"
        )
    r = b.get("/me/proof.json")
    assert r.status_code == 200
    assert r.headers["content-disposition"] == f'attachment; filename="jifen-proof-{seq}.json"'
    file = r.json()
    assert file["proof"]["member_id"] == me and other not in r.text
    script = b.get("/verify_proof.py")  # the page links the checker; the site serves it
    assert script.status_code == 200 and script.content == VERIFIER.read_bytes()
    (tmp_path / "verify_proof.py").write_bytes(script.content)
    (tmp_path / f"jifen-proof-{seq}.json").write_bytes(r.content)
    argv = shlex.split(command)
    assert argv[:2] == ["python3", "verify_proof.py"]
    ran = _run(tmp_path, argv, stdlib_only=True)  # a member's plain Python: no packages at all
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "included" in ran.stdout and me in ran.stdout and "NOT CHECKED" in ran.stdout
    # the same file claiming a point more does not verify against the published root
    file["proof"]["balance"] += 1
    (tmp_path / f"jifen-proof-{seq}.json").write_text(json.dumps(file))
    ran = _run(tmp_path, argv, stdlib_only=True)
    assert ran.returncode == 1, ran.stdout + ran.stderr


def _run(folder: Path, argv: list[str], *, stdlib_only: bool) -> subprocess.CompletedProcess[str]:
    """``python3 verify_proof.py …`` in ``folder``: with ``stdlib_only``, as on a machine with
    nothing but Python (``-I -S``: no site-packages, so no ``cryptography`` either)."""
    flags = ["-I", "-S"] if stdlib_only else []
    return subprocess.run(
        [sys.executable, *flags, *argv[1:]], cwd=folder, capture_output=True, text=True, timeout=60
    )


def test_the_proof_file_verifies_with_its_signature_where_cryptography_is_installed(
    site: Tools, tmp_path: Path
) -> None:
    seq = _take(site, "cp-1")["checkpoint"]["seq"]
    b = Browser(site.server, "en")
    b.as_member(site.members[0])
    command = _testid(b.page("/me/proof"), "verify-command")[0]
    (tmp_path / "verify_proof.py").write_bytes(VERIFIER.read_bytes())
    (tmp_path / f"jifen-proof-{seq}.json").write_bytes(b.get("/me/proof.json").content)
    ran = _run(tmp_path, shlex.split(command), stdlib_only=False)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "signature: valid" in ran.stdout


def test_a_member_the_checkpoint_did_not_count_is_told_so_plainly(site: Tools) -> None:
    _take(site, "cp-1")
    newcomer = site.alliance.enrol("13700137000")
    for lang in ("zh-CN", "en"):
        b = Browser(site.server, lang)
        b.as_member(newcomer)
        page = b.page("/me/proof")
        assert _testid(page, "no-proof") and "proof-download" not in page
        assert b.get("/me/proof.json").status_code == 404
