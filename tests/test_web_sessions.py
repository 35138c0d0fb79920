"""The consoles' sign-in, sessions and CSRF protection (issue 13, the foundation every role's
pages stand on): in process, with the wall clock the sessions run on under the test's control."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from jifen.alliance import keys
from jifen.alliance.merchants import add_operator_key
from jifen.app import SimulatedClock, open_alliance
from jifen.app.context import Context
from jifen.store import tables as t
from jifen.web import WebSettings, cookies_secure_for, create_site
from jifen.web.sessions import LIFETIMES

T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
KEY = "jfo_web-test-operator-key-0123456789"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass
class WallClock:
    now: datetime = field(default_factory=lambda: datetime(2026, 12, 3, 8, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Site:
    ctx: Context
    wall: WallClock
    client: TestClient

    def browser(self, **headers: str) -> TestClient:
        return TestClient(self.client.app, base_url="http://127.0.0.1", headers=headers)


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    ctx = open_alliance(f"sqlite:///{tmp_path / 'web.db'}", secret="s", clock=SimulatedClock(T0))
    add_operator_key(ctx, KEY, T0)
    wall = WallClock()
    app = create_site(ctx, web=WebSettings(cookie_secure=False, now=wall))
    with TestClient(app, base_url="http://127.0.0.1") as client:
        yield Site(ctx, wall, client)
    ctx.engine.dispose()


def token(client: TestClient, path: str = "/signin") -> str:
    found = CSRF.search(client.get(path).text)
    assert found, path
    return found.group(1)


def sign_in(client: TestClient, key: str = KEY, next_path: str = "") -> str:
    r = client.post(
        "/signin", data={"key": key, "csrf": token(client), "next": next_path},
        follow_redirects=False,
    )  # fmt: skip
    assert r.status_code == 303, r.text
    return str(r.headers["location"])


def signed_in(client: TestClient) -> bool:
    r = client.get("/operator", follow_redirects=False)
    assert r.status_code in (200, 303), r.status_code
    return r.status_code == 200


def test_a_key_becomes_a_session_cookie_the_store_keeps_only_as_a_hash(site: Site) -> None:
    c = site.browser()
    assert not signed_in(c)
    assert sign_in(c) == "/operator"
    assert signed_in(c)
    cookie = c.cookies["jifen_session"]
    with site.ctx.engine.connect() as conn:
        rows = conn.execute(select(t.web_sessions)).all()
    assert len(rows) == 1 and rows[0].role == "operator"
    assert cookie not in str(rows[0]) and KEY not in str(rows[0])


def test_the_session_cookie_is_http_only_same_site_and_secure_unless_loopback_http(
    site: Site, tmp_path: Path
) -> None:
    c = site.browser()
    r = c.post("/signin", data={"key": KEY, "csrf": token(c)}, follow_redirects=False)
    header = r.headers["set-cookie"].lower()
    assert "httponly" in header and "samesite=lax" in header and "secure" not in header
    secure = create_site(site.ctx, web=WebSettings(cookie_secure=True))
    with TestClient(secure, base_url="https://127.0.0.1") as s:
        r = s.post("/signin", data={"key": KEY, "csrf": token(s)}, follow_redirects=False)
    assert r.status_code == 303 and "; secure" in r.headers["set-cookie"].lower()
    assert not cookies_secure_for("http://127.0.0.1:8000")
    assert not cookies_secure_for("http://localhost:8000")
    assert cookies_secure_for("https://127.0.0.1:8000")
    assert cookies_secure_for("http://10.0.0.5:8000")  # plain HTTP off loopback: Secure anyway
    assert cookies_secure_for("https://jifen.example.cn")


def test_signing_out_ends_the_session_for_good(site: Site) -> None:
    c = site.browser()
    sign_in(c)
    stolen = c.cookies["jifen_session"]
    r = c.post("/signout", data={"csrf": token(c, "/operator")}, follow_redirects=False)
    assert r.status_code == 303
    assert not signed_in(c)
    replay = site.browser()
    replay.cookies.set("jifen_session", stolen)
    assert not signed_in(replay)


def test_a_session_ends_after_its_idle_limit_and_its_absolute_limit(site: Site) -> None:
    life = LIFETIMES["operator"]
    c = site.browser()
    sign_in(c)
    site.wall.now += life.idle - timedelta(minutes=1)
    assert signed_in(c)  # activity moves the idle limit on
    site.wall.now += life.idle - timedelta(minutes=1)
    assert signed_in(c)
    site.wall.now += life.idle
    assert not signed_in(c)
    sign_in(c)
    started = site.wall.now
    while site.wall.now < started + life.absolute - life.idle:
        site.wall.now += life.idle / 2
        assert signed_in(c)
    site.wall.now = started + life.absolute
    assert not signed_in(c)  # however busy


def test_revoking_the_key_ends_the_sessions_made_with_it(site: Site) -> None:
    info, auditor_key = keys.create_auditor(site.ctx, "firm", T0)
    c = site.browser()
    assert sign_in(c, auditor_key) == "/auditor"
    assert c.get("/auditor", follow_redirects=False).status_code == 200
    keys.revoke_auditor(site.ctx, info.key_id, T0)
    assert c.get("/auditor", follow_redirects=False).status_code == 303


def test_a_form_without_this_browsers_token_changes_nothing(site: Site) -> None:
    c = site.browser()
    r = c.post("/signin", data={"key": KEY}, follow_redirects=False)
    assert r.status_code == 403 and "web.csrf_refused" in r.text
    other = site.browser()
    r = c.post("/signin", data={"key": KEY, "csrf": token(other)}, follow_redirects=False)
    assert r.status_code == 403, "a token minted for another browser's nonce"
    evil = site.browser(origin="https://evil.example")
    r = evil.post("/signin", data={"key": KEY, "csrf": token(evil)}, follow_redirects=False)
    assert r.status_code == 403, "a post from another site, even with a token"
    with site.ctx.engine.connect() as conn:
        assert conn.execute(select(t.web_sessions)).first() is None
    sign_in(c)
    r = c.post("/signout", data={}, follow_redirects=False)
    assert r.status_code == 403 and signed_in(c)


def test_sign_in_goes_back_only_to_a_page_of_this_site(site: Site) -> None:
    assert sign_in(site.browser(), next_path="/operator?x=1") == "/operator?x=1"
    for target in ("//evil.example/x", "https://evil.example", "/\\evil.example", "evil"):
        assert sign_in(site.browser(), next_path=target) == "/operator", target


def test_a_page_that_needs_a_session_sends_nobody_to_sign_in_and_refuses_other_roles(
    site: Site,
) -> None:
    c = site.browser()
    r = c.get("/operator", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/signin?next=/operator"
    r = c.get("/me", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/me/signin?next=")
    sign_in(c)
    r = c.get("/me", follow_redirects=False)
    assert r.status_code == 403 and "auth.forbidden" in r.text
    assert r.headers["content-type"].startswith("text/html")


def test_bad_keys_count_against_the_address_like_the_apis(site: Site) -> None:
    c = site.browser()
    limiter = site.client.app.state.auth_limiter  # type: ignore[attr-defined]
    first = c.post("/signin", data={"key": "jfo_wrong", "csrf": token(c)})
    assert first.status_code == 401 and "密钥无效" in first.text
    statuses = [
        c.post("/signin", data={"key": "jfo_wrong", "csrf": token(c)}).status_code
        for _ in range(limiter.max_failures)
    ]
    assert statuses[-1] == 429, statuses
    r = c.post("/signin", data={"key": KEY, "csrf": token(c)}, follow_redirects=False)
    assert r.status_code == 429, "the right key waits out the limit too"


def test_pages_speak_the_readers_language_and_the_api_keeps_its_problems(site: Site) -> None:
    c = site.browser()
    assert 'lang="zh-CN"' in c.get("/signin").text
    en = site.browser(**{"accept-language": "en-US,en;q=0.9"})
    r = en.get("/signin")
    assert r.headers["content-language"] == "en" and "Sign in" in r.text
    r = c.get("/lang/en?next=/signin")
    assert r.headers["content-language"] == "en" and c.cookies["jifen_lang"] == "en"
    c.get("/lang/xx?next=/signin")
    assert c.cookies["jifen_lang"] == "en", "an unknown language changes nothing"
    page = c.get("/no-such-page", headers={"accept": "text/html"})
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    api = c.get("/v1/no-such-thing", headers={"accept": "text/html"})
    assert api.status_code == 404
    assert api.headers["content-type"].startswith("application/problem+json")


def test_pages_run_under_a_policy_that_allows_only_the_site_itself(site: Site) -> None:
    r = site.browser().get("/signin")
    policy = r.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert "<script>" not in r.text and "style=" not in r.text
    assert site.browser().get("/static/jifen.css").status_code == 200
