"""``/docs`` and ``/redoc`` work without the internet: every file they load comes from the server
itself, and the server has it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from jifen.api import create_app
from jifen.app import SimulatedClock, open_alliance

PAGES = ("/docs", "/redoc")
TYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}
LEAST_BYTES = {".js": 500_000, ".css": 100_000, ".png": 1_000}  # the real bundles, not stubs


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    db = tmp_path_factory.mktemp("docs-pages") / "jifen.db"
    ctx = open_alliance(str(db), secret="docs-pages", clock=SimulatedClock(datetime.now(UTC)))
    try:
        yield TestClient(create_app(ctx))
    finally:
        ctx.engine.dispose()


def _references(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="([^"]+)"', html)


@pytest.mark.parametrize("page", PAGES)
def test_a_docs_page_loads_only_from_the_server_itself(api: TestClient, page: str) -> None:
    r = api.get(page)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "://" not in r.text, re.findall(r"\S*://\S*", r.text)  # no CDN, no font host
    assert not re.search(r"https?:", r.headers["content-security-policy"]), r.headers
    refs = _references(r.text)
    assert any(ref.endswith(".js") for ref in refs), refs
    for ref in refs:
        assert ref.startswith("/") and not ref.startswith("//"), ref  # same origin
        asset = api.get(ref)
        suffix = Path(ref).suffix
        assert asset.status_code == 200, (ref, asset.status_code)
        assert asset.headers["content-type"].startswith(TYPES[suffix]), (ref, asset.headers)
        assert len(asset.content) >= LEAST_BYTES[suffix], (ref, len(asset.content))


def test_the_pages_name_the_bundles_they_need(api: TestClient) -> None:
    swagger = _references(api.get("/docs").text)
    redoc = _references(api.get("/redoc").text)
    assert {"/docs/static/swagger-ui-bundle.js", "/docs/static/swagger-ui.css"} <= set(swagger)
    assert "/docs/static/redoc.standalone.js" in redoc
    assert b"SwaggerUIBundle" in api.get("/docs/static/swagger-ui-bundle.js").content
    assert b"Redoc" in api.get("/docs/static/redoc.standalone.js").content


def test_only_the_bundles_are_served_from_the_static_folder(api: TestClient) -> None:
    for name in ("core.py", "..%2F__init__.py", "swagger-ui-bundle.js.map"):
        r = api.get(f"/docs/static/{name}")
        assert r.status_code == 404 and r.json()["code"] == "not_found", (name, r.text)
