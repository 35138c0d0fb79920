"""The auditor's console (issue 13 §5): the lanes' latest block hashes, blocks, entries, "verify
now" and its report, and the rule that an auditor cannot write: the verify form is its only post,
and it records a verification run and nothing else."""

from __future__ import annotations

import html
import re
import time
from pathlib import Path
from typing import Any

from sqlalchemy import update

from api_server import OPERATOR_KEY, Server
from jifen.ledger import _tables as t
from jifen.settlement import verifications
from web_kit import Browser, auditor_key, merchant_key, site_alliance, web_routes

ALLOWED_POSTS = {"/auditor/verify", "/signout"}
"""The auditor's own posts: the one write it may make, and ending its session."""
SIGN_IN = ("/signin", "/me/signin")
"""Sign-in forms answer a browser whoever is signed in: presenting another key or code is how
someone becomes another caller, not a write made with the auditor's rights."""


def _testid(page: str, testid: str) -> list[str]:
    found = re.findall(rf'data-testid="{testid}"[^>]*>(.*?)</', page, re.S)
    return [html.unescape(re.sub(r"<[^>]+>", "", f)).strip() for f in found]


def _auditor(server: Server, lang: str = "en") -> Browser:
    b = Browser(server, lang)
    b.sign_in(auditor_key(server))
    return b


def _api_all(server: Server, path: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    with server.operator() as op:
        while True:
            page = op.get(path, params={"cursor": cursor} if cursor else {}).json()
            items += page["items"]
            cursor = page["next_cursor"]
            if cursor is None:
                return items


def test_the_home_page_shows_each_lanes_latest_block_hash_as_the_api(tmp_path: Path) -> None:
    with site_alliance(f"sqlite:///{tmp_path / 'web.db'}") as tools:
        page = _auditor(tools.server).page("/auditor")
        with tools.server.operator() as op:
            lanes = op.get("/v1/audit/lanes").json()
    used = [lane for lane in lanes if lane["height"]]
    shown = re.findall(r'data-testid="lane-row" data-lane="(\d+)"', page)
    assert shown == [str(lane["chain_id"]) for lane in used]
    assert _testid(page, "lane-hash") == [lane["block_hash"] for lane in used]
    empty = ", ".join(str(lane["chain_id"]) for lane in lanes if not lane["height"])
    assert _testid(page, "empty-lanes")[0].endswith(empty)
    assert _testid(page, "lanes-text")[0].split() == [
        str(v) for lane in used for v in (lane["chain_id"], lane["height"], lane["block_hash"])
    ]
    tips = re.findall(r'href="/auditor/blocks/(\d+)/(\d+)" data-testid="lane-tip-link"', page)
    assert tips == [(str(x["chain_id"]), str(x["height"])) for x in lanes if x["height"]]


def test_blocks_and_entries_show_the_hashes_and_legs_the_api_reads(tmp_path: Path) -> None:
    with site_alliance(f"sqlite:///{tmp_path / 'web.db'}") as tools:
        server = tools.server
        b = _auditor(server)
        blocks = _api_all(server, "/v1/audit/blocks")
        entries = _api_all(server, "/v1/audit/entries")
        page = b.page("/auditor/blocks")
        rows = re.findall(r'data-testid="block-row" data-lane="(\d+)" data-height="(\d+)"', page)
        assert rows == [(str(x["chain_id"]), str(x["height"])) for x in blocks]
        assert _testid(page, "block-hash") == [x["block_hash"] for x in blocks]
        assert _testid(page, "block-prev-hash") == [x["prev_hash"] for x in blocks]

        block = blocks[-1]
        page = b.page(f"/auditor/blocks/{block['chain_id']}/{block['height']}")
        own = [
            e
            for e in entries
            if (e["chain_id"], e["height"]) == (block["chain_id"], block["height"])
        ]
        assert re.findall(r'data-testid="entry" data-entry="([^"]+)"', page) == [
            e["entry_id"] for e in own
        ]
        assert _testid(page, "block-hash") == [block["block_hash"]]

        earn = next(e for e in entries if e["kind"] == "earn")
        page = b.page(f"/auditor/entries/{earn['entry_id']}")
        assert _testid(page, "entry-hash") == [earn["entry_hash"]]
        assert _testid(page, "entry-kind") == ["earn"]
        legs = re.findall(r'data-testid="leg-row"><td[^>]*>([^<]*)</td><td[^>]*>([^<]*)</td>'
                          r'<td[^>]*>(-?\d+)</td>', page)  # fmt: skip
        assert legs == [(x["account"], x["asset"], str(x["amount"])) for x in earn["legs"]]
        b.page("/auditor/entries/e-nothing-here", status=404)
        b.page("/auditor/blocks/0/999999", status=404)


def _verify(b: Browser) -> tuple[str, str]:
    """Press "verify now" and wait for the report: (state, the result page)."""
    b.page("/auditor/verify")
    r = b.submit("/auditor/verify")
    assert r.status_code == 200 and "/auditor/verify?run=" in str(r.url), (r.status_code, r.url)
    path = str(r.url.raw_path.decode())
    deadline = time.monotonic() + 60
    page = r.text
    while 'data-state="running"' in page and time.monotonic() < deadline:
        time.sleep(0.1)
        page = b.page(path)
    (state,) = re.findall(r'data-testid="verify-result" data-state="(\w+)"', page)
    return state, page


def test_verify_now_reports_clean_then_names_a_row_changed_behind_the_ledger(db_url: str) -> None:
    with site_alliance(db_url) as tools:
        server = tools.server
        b = _auditor(server)
        state, page = _verify(b)
        assert state == "passed", page
        assert _testid(page, "verify-outcome")[0].startswith("Clean:")
        assert not _testid(page, "verify-finding")
        with server.operator() as op:  # the report reached each lane's tip
            tips = [x["block_hash"] for x in op.get("/v1/audit/lanes").json() if x["height"]]
        assert _testid(page, "verify-lane-hash") == tips

        earn = next(e for e in _api_all(server, "/v1/audit/entries") if e["kind"] == "earn")
        with server.ctx.engine.begin() as conn:  # someone with write access to the database
            conn.execute(
                update(t.legs)
                .where(t.legs.c.entry_id == earn["entry_id"], t.legs.c.leg_no == 1)
                .values(amount=t.legs.c.amount + 1)
            )
        state, page = _verify(b)
        assert state == "failed", page
        assert _testid(page, "verify-outcome")[0].startswith("Failed:")
        findings = re.findall(r'data-testid="verify-finding" data-code="([^"]+)"', page)
        assert findings, page
        assert earn["entry_id"] in page  # the finding names the entry that was touched
        runs = b.page("/auditor/verifications")
        assert re.findall(r'data-testid="run-row" data-run="[^"]+" data-state="(\w+)"', runs) == [
            "failed",
            "passed",
        ]


def test_a_verify_post_without_the_csrf_token_is_refused(tmp_path: Path) -> None:
    with site_alliance(f"sqlite:///{tmp_path / 'web.db'}") as tools:
        b = _auditor(tools.server)
        b.page("/auditor/verify")
        r = b.post("/auditor/verify", data={}, headers={"accept": "text/html"})
        assert r.status_code == 403 and "web.csrf_refused" in r.text
        r = b.post("/auditor/verify", data={"csrf": "forged"}, headers={"accept": "text/html"})
        assert r.status_code == 403
        runs = verifications.list_verifications(tools.server.ctx, cursor=None, limit=10)
        assert runs.items == []  # nothing was started


def _web_posts(app: Any) -> list[str]:
    """Every post route of the consoles but the sign-in forms (by path or by module)."""
    return sorted(
        route.path
        for route in web_routes(app)
        if "POST" in getattr(route, "methods", ())
        and (route.path == "/signout" or not _is_sign_in(route))
    )


def _is_sign_in(route: Any) -> bool:
    return route.path.startswith(SIGN_IN) or route.endpoint.__module__.endswith("signin")


def test_an_auditor_cannot_write(tmp_path: Path) -> None:
    """Every post of the whole site but its own two, tried with an auditor's session and a good
    CSRF token, is refused (403); the API's writes refuse the auditor's key (every route:
    tests/test_auditor.py); nothing is written."""
    with site_alliance(f"sqlite:///{tmp_path / 'web.db'}") as tools:
        server = tools.server
        posts = _web_posts(server.app)
        assert set(posts) >= ALLOWED_POSTS  # the walk sees included routers' routes
        tried = [p for p in posts if p not in ALLOWED_POSTS]
        b = _auditor(server)
        b.page("/auditor")
        for path in tried:
            concrete = re.sub(r"\{[^}]+\}", "1", path)
            r = b.submit(concrete, {"key": "x", "amount_fen": "100", "reason": "x"})
            assert r.status_code == 403, (path, r.status_code, r.text[:500])
        key = auditor_key(server)
        with server.client(key) as auditor:
            for path, body in (
                ("/v1/rules/drafts", {}),
                ("/v1/merchants", {"merchant_id": "gamma", "name": "g", "category": "cafe"}),
                ("/v1/orders", {}),
                ("/v1/jobs/run", {}),
            ):
                r = auditor.post(path, json=body)
                assert r.status_code == 403, (path, r.text)
        with server.operator() as op:
            merchants = {m["merchant_id"] for m in op.get("/v1/merchants").json()["items"]}
            versions = op.get("/v1/rules/versions").json()
        assert merchants == {"alpha", "beta"} and len(versions) == 1
        assert verifications.list_verifications(server.ctx, cursor=None, limit=10).items == []
        b.page("/auditor")  # still signed in: the refusals ended nothing


def test_the_auditor_pages_are_for_auditors_and_the_operator(tmp_path: Path) -> None:
    with site_alliance(f"sqlite:///{tmp_path / 'web.db'}") as tools:
        server = tools.server
        anyone = Browser(server, "en")
        r = anyone.get("/auditor/blocks", headers={"accept": "text/html"})
        assert r.status_code == 200 and "/signin" in str(r.url)  # sent to sign in
        merchant = Browser(server, "en")
        merchant.sign_in(merchant_key(tools, "alpha"))
        merchant.page("/auditor", status=403)
        merchant.page("/auditor/verify", status=403)
        op = Browser(server, "en")
        op.sign_in(OPERATOR_KEY)
        assert _testid(op.page("/auditor"), "lane-hash")
