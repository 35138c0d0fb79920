"""The merchant's console (issue 13, Build §3): cash orders and refunds, redemptions by code,
statements and exports, keys — each the same service call as the API's merchant routes, scoped
to the signed-in merchant."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jifen.web.merchant.forms import yuan_to_fen
from jifen.web.render import yuan
from tools_kit import Tools
from web_kit import Browser, merchant_key, site_alliance


@pytest.fixture(scope="module")
def tools(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tools]:
    """One alliance for the module: each test uses its own order refs, so they do not meet."""
    path: Path = tmp_path_factory.mktemp("merchant") / "web.db"
    with site_alliance(f"sqlite:///{path}") as found:
        yield found


def alpha(tools: Tools, lang: str | None = None) -> Browser:
    b = Browser(tools.server, lang)
    b.sign_in(merchant_key(tools, "alpha"))
    return b


def form_key(html: str, form: str) -> str:
    """The hidden form key of the form with ``data-testid=form``."""
    part = html[html.index(f'data-testid="{form}"') :]
    found = re.search(r'name="form_key" value="([^"]+)"', part)
    assert found, form
    return found.group(1)


def order_fields(html: str, member: str, ref: str, amount: str) -> dict[str, str]:
    return {
        "form_key": form_key(html, "order-form"),
        "member": member,
        "order_ref": ref,
        "amount": amount,
        "paid_at": "",
    }


# -- amounts --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "fen"),
    [
        ("12.3", 1230),
        ("12.30", 1230),
        ("12", 1200),
        ("12.", 1200),
        ("0.05", 5),
        ("0.1", 10),
        (" 1,234.56 ", 123456),
        ("１２.３", 1230),  # full-width digits from a Chinese keyboard
        ("¥8.88", 888),
        ("12.345", None),
        ("-1", None),
        ("-0.01", None),
        ("+1", None),
        ("1e3", None),
        ("0", None),
        ("0.00", None),
        ("", None),
        ("abc", None),
        (".5", None),
        ("nan", None),
        ("10000000000.01", None),  # above what the API accepts
    ],
)
def test_amounts_are_read_exactly(typed: str, fen: int | None) -> None:
    assert yuan_to_fen(typed) == fen


@given(st.integers(min_value=1, max_value=10**12))
def test_every_fen_amount_reads_back_exactly(fen: int) -> None:
    assert yuan_to_fen(f"{fen // 100}.{fen % 100:02d}") == fen
    if fen % 10 == 0:
        assert yuan_to_fen(f"{fen // 100}.{fen % 100 // 10}") == fen
    assert yuan_to_fen(f"{fen // 100}.{fen % 100:02d}1") is None


# -- orders ---------------------------------------------------------------------------------------


def test_a_merchant_records_an_order_and_sees_its_points(tools: Tools) -> None:
    b = alpha(tools)
    home = b.page("/merchant")
    assert 'data-testid="order-form"' in home
    r = b.submit("/merchant/orders", order_fields(home, tools.members[0], "w-1", "123.4"))
    assert r.status_code == 200 and str(r.url).endswith("/merchant/orders/w-1?recorded=1")
    assert 'data-testid="order-recorded"' in r.text
    assert re.search(r'data-testid="order-points">123<', r.text), r.text
    assert re.search(r'data-testid="order-amount">123\.40<', r.text)
    assert 'data-testid="order-pending-until"' in r.text
    listed = b.page("/merchant/orders")
    row = listed[listed.index(">w-1<") :]
    assert re.search(r'data-testid="order-points">123<', row)
    with tools.alliance.merchant("alpha") as api:  # the API sees the same order
        got = api.get("/v1/orders/w-1").json()
    assert (got["amount_fen"], got["points"], got["status"]) == (12340, 123, "pending")


def test_an_order_by_the_members_phone(tools: Tools) -> None:
    b = alpha(tools)
    home = b.page("/merchant")
    r = b.submit("/merchant/orders", order_fields(home, "138 0013 8000", "w-phone", "10"))
    assert str(r.url).endswith("/merchant/orders/w-phone?recorded=1"), r.text[:500]
    assert tools.members[0] in r.text
    home = b.page("/merchant")
    r = b.submit("/merchant/orders", order_fields(home, "13700137000", "w-nobody", "10"))
    assert r.status_code == 404 and 'role="alert"' in r.text  # not a member: nothing written


def test_a_double_submit_writes_one_order(tools: Tools) -> None:
    b = alpha(tools)
    home = b.page("/merchant")
    fields = order_fields(home, tools.members[0], "w-twice", "50")
    first = b.submit("/merchant/orders", fields)
    second = b.submit("/merchant/orders", fields)  # the same form, posted again
    assert first.status_code == second.status_code == 200
    assert str(first.url) == str(second.url)
    with tools.alliance.merchant("alpha") as api:
        listed = api.get("/v1/orders", params={"limit": 100}).json()["items"]
    refs = [o["order_ref"] for o in listed]
    assert refs.count("w-twice") == 1
    with tools.server.operator() as op:  # one earn entry in the journal, one lot
        account = op.get(f"/v1/members/{tools.members[0]}/account").json()
    assert sum(1 for lot in account["pending_lots"] if lot["order_ref"] == "w-twice") == 1
    again = b.page("/merchant")  # a new form, same ref, other amount: refused, nothing written
    r = b.submit("/merchant/orders", order_fields(again, tools.members[0], "w-twice", "60"))
    assert r.status_code == 409 and 'role="alert"' in r.text
    assert 'href="/merchant/orders/w-twice" data-testid="order-used-link"' in r.text


def test_refused_amounts_write_nothing(tools: Tools) -> None:
    b = alpha(tools)
    for typed in ("12.345", "-5", "0"):
        home = b.page("/merchant")
        r = b.submit("/merchant/orders", order_fields(home, tools.members[0], "w-bad", typed))
        assert r.status_code == 422 and 'role="alert"' in r.text, typed
        assert f'value="{typed}"' in r.text  # what was typed stays in the form
    b.page("/merchant/orders/w-bad", status=404)


def test_a_partial_then_full_refund(tools: Tools) -> None:
    b = alpha(tools)
    home = b.page("/merchant")
    b.submit("/merchant/orders", order_fields(home, tools.members[0], "w-refund", "100"))
    order = b.page("/merchant/orders/w-refund")
    assert 'value="100.00"' in order  # the refund form starts at the whole amount
    fields = {"form_key": form_key(order, "refund-form"), "refund_ref": "rf-1", "amount": "40"}
    r = b.submit("/merchant/orders/w-refund/refunds", fields)
    assert r.status_code == 200 and 'data-testid="refund-result"' in r.text
    again = b.submit("/merchant/orders/w-refund/refunds", fields)  # resubmitted: the same one
    assert again.status_code == 200
    with tools.alliance.merchant("alpha") as api:
        got = api.get("/v1/orders/w-refund").json()
    assert got["refunded_fen"] == 4000 and got["points"] == 100
    order = b.page("/merchant/orders/w-refund")
    assert 'value="60.00"' in order
    r = b.submit(
        "/merchant/orders/w-refund/refunds",
        {"form_key": form_key(order, "refund-form"), "refund_ref": "rf-2", "amount": "60"},
    )
    assert r.status_code == 200
    with tools.alliance.merchant("alpha") as api:
        assert api.get("/v1/orders/w-refund").json()["refunded_fen"] == 10000
    assert 'data-testid="refund-form"' not in b.page("/merchant/orders/w-refund")


def test_the_order_list_pages_through_every_order_once(tools: Tools) -> None:
    for n in range(22):
        tools.alliance.order("alpha", f"w-page-{n}", tools.members[0], 1_000 + n)
    b = alpha(tools)
    seen: list[str] = []
    path: str | None = "/merchant/orders"
    while path:
        html = b.page(path)
        seen += re.findall(r'data-testid="order-link">([^<]+)<', html)
        more = re.search(r'href="(/merchant/orders\?cursor=[^"]+)" data-testid="orders-next"', html)
        path = more.group(1).replace("&amp;", "&") if more else None
    assert len(seen) == len(set(seen)) > 22
    assert {f"w-page-{n}" for n in range(22)} <= set(seen)


def test_an_order_below_one_point_writes_nothing_and_says_so(tools: Tools) -> None:
    b = alpha(tools)
    home = b.page("/merchant")
    r = b.submit("/merchant/orders", order_fields(home, tools.members[0], "w-tiny", "0.5"))
    assert r.status_code == 200 and 'data-testid="order-no-points"' in r.text
    b.page("/merchant/orders/w-tiny", status=404)


# -- redemptions ----------------------------------------------------------------------------------


def test_accepting_a_redemption_by_the_members_code(tools: Tools) -> None:
    b = alpha(tools)
    form = b.page("/merchant/redeem")
    field = form[form.index('name="code"') - 200 : form.index('name="code"') + 300]
    for attr in ("autofocus", 'inputmode="numeric"', 'autocomplete="one-time-code"'):
        assert attr in field, attr
    assert '<script src="/static/merchant-scan.js"' in form and "hidden" in field
    before = tools.available(tools.members[0])
    code = tools.alliance.code(tools.members[0])
    fields = {
        "form_key": form_key(form, "redeem-form"),
        "code": code,
        "points": "30",
        "order_ref": "w-redeem",
        "amount": "88.8",
    }
    r = b.submit("/merchant/redemptions", fields)
    assert r.status_code == 200 and "/merchant/redeem?done=" in str(r.url)
    assert re.search(r'data-testid="redemption-points">30<', r.text)
    assert re.search(r'data-testid="redemption-value">0\.30<', r.text)  # 100 points = ¥1
    assert 'data-testid="redemption-id"' in r.text
    twice = b.submit("/merchant/redemptions", fields)  # a double submit: the same redemption
    assert str(twice.url) == str(r.url)
    assert tools.available(tools.members[0]) == before - 30
    other = b.page("/merchant/redeem")  # the code again, on a new form: it was used
    fields["form_key"] = form_key(other, "redeem-form")
    r = b.submit("/merchant/redemptions", fields | {"points": "31"})
    assert r.status_code == 409 and 'role="alert"' in r.text
    assert tools.available(tools.members[0]) == before - 30


def test_a_wrong_code_is_refused_on_the_form(tools: Tools) -> None:
    b = alpha(tools)
    form = b.page("/merchant/redeem")
    fields = {"form_key": form_key(form, "redeem-form"), "code": "1" * 18, "points": "5",
              "order_ref": "w-nocode", "amount": "10"}  # fmt: skip
    r = b.submit("/merchant/redemptions", fields)
    assert r.status_code == 403 and 'role="alert"' in r.text and 'value="w-nocode"' in r.text


# -- one merchant cannot see another's ------------------------------------------------------------


def test_a_merchant_cannot_open_another_merchants_statement(tools: Tools) -> None:
    """Every URL form naming beta's things, from alpha's session: refused, and the same answer
    as for a thing that does not exist."""
    beta_redemption = tools.redeem("beta", tools.members[1], 5, "b-redeem")
    with tools.alliance.merchant("beta") as api:
        beta_key = api.get("/v1/merchant/keys").json()[0]["key_id"]
        beta_day = api.get("/v1/statements").json()["items"][0]["business_date"]
    b = alpha(tools)
    days = {s["business_date"] for s in _statements(tools, "alpha")}
    pairs = [
        ("/merchant/orders/b-1", "/merchant/orders/no-such-order"),
        (f"/merchant/redeem?done={beta_redemption}", f"/merchant/redeem?done={'0' * 32}"),
        ("/merchant/statements?merchant_id=beta", "/merchant/statements?merchant_id=nobody"),
    ]  # fmt: skip
    for export in ("/merchant/exports/statements.csv", "/merchant/exports/orders.csv"):
        pairs.append((f"{export}?merchant_id=beta", f"{export}?merchant_id=nobody"))
    beta_only = sorted({s["business_date"] for s in _statements(tools, "beta")} - days)
    if beta_only:
        pairs.append((f"/merchant/statements/{beta_only[0]}", "/merchant/statements/2001-01-01"))
    for theirs, nothing in pairs:
        a = b.get(theirs, headers={"accept": "text/html"})
        n = b.get(nothing, headers={"accept": "text/html"})
        assert a.status_code in (403, 404), (theirs, a.status_code)
        assert a.status_code == n.status_code, theirs
        assert _main(a.text) == _main(n.text), theirs  # the same answer, word for word
    mine = {s["business_date"]: s for s in _statements(tools, "alpha")}
    shown = b.get(f"/merchant/statements/{beta_day}", headers={"accept": "text/html"})
    if beta_day in mine:  # a day URL names no merchant: it is always the caller's own day
        net = int(mine[beta_day]["net_fen"])
        assert f'data-testid="st-net"><strong>{yuan(net)}<' in shown.text
    else:
        assert shown.status_code == 404
    page = b.page("/merchant/keys")
    for path in (f"/merchant/keys/{beta_key}/revoke", "/merchant/keys/k000000000000000/revoke"):
        r = b.submit(path, {})
        assert r.status_code == 404, path
    with tools.alliance.merchant("beta") as api:  # beta's key is untouched
        assert api.get("/v1/merchant/keys").json()[0]["status"] == "active"
    r = b.submit(f"/merchant/keys/{beta_key}/rotate", {"form_key": form_key(page, "key-form"),
                                                      "grace_seconds": "0"})  # fmt: skip
    assert r.status_code == 404
    assert b.get("/operator", headers={"accept": "text/html"}).status_code == 403
    assert b.get("/auditor", headers={"accept": "text/html"}).status_code == 403


def _main(html: str) -> str:
    return html[html.index("<main>") : html.index("</main>")]


def _statements(tools: Tools, merchant_id: str) -> list[dict[str, str]]:
    with tools.alliance.merchant(merchant_id) as api:
        items: list[dict[str, str]] = api.get("/v1/statements").json()["items"]
    return items


def test_a_form_without_its_csrf_token_is_refused(tools: Tools) -> None:
    b = alpha(tools)
    home = b.page("/merchant")
    fields = order_fields(home, tools.members[0], "w-csrf", "10")
    r = b.post("/merchant/orders", data=fields, headers={"accept": "text/html"})
    assert r.status_code == 403
    r = b.post("/merchant/keys", data={"name": "x", "form_key": fields["form_key"]})
    assert r.status_code == 403
    b.page("/merchant/orders/w-csrf", status=404)


# -- statements and exports -----------------------------------------------------------------------


def test_statements_and_exports_are_this_merchants_only(tools: Tools) -> None:
    b = alpha(tools)
    page = b.page("/merchant/statements")
    assert 'data-testid="statement-today"' in page
    for s in _statements(tools, "alpha"):
        assert f"/merchant/statements/{s['business_date']}" in page
        day = b.page(f"/merchant/statements/{s['business_date']}")
        assert f"{s['net_fen'] // 100:,}." in day  # type: ignore[operator]
    links = re.findall(r'href="(/merchant/exports/[a-z]+\.csv\?[^"]+)"', page)
    assert len(links) >= 2
    for link in links:
        r = b.get(link.replace("&amp;", "&"))
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
        assert "attachment" in r.headers["content-disposition"]
        rows = list(csv.DictReader(io.StringIO(r.text)))
        assert rows, link
        assert {row["商家 merchant_id"] for row in rows} == {"alpha"}, link
    r = b.get("/merchant/exports/orders.csv", params={"first": "2000-01-01", "last": "2100-01-01"})
    refs = {row["订单号 order_ref"] for row in csv.DictReader(io.StringIO(r.text))}
    assert "a-1" in refs and "b-1" not in refs


# -- keys -----------------------------------------------------------------------------------------


def key_named(html: str, name: str) -> str:
    row = r'data-key-id="(k[0-9a-f]{15})">\s*<div class="m-key-head"><strong translate="no">'
    found = re.search(row + name + "<", html)
    assert found, name
    return found.group(1)


def test_a_revoked_key_ends_its_session(tools: Tools) -> None:
    b = alpha(tools)
    page = b.page("/merchant/keys")
    made = b.submit("/merchant/keys", {"form_key": form_key(page, "key-form"), "name": "till-9",
                                       "store_id": "s2"})  # fmt: skip
    assert made.status_code == 201
    secret = re.search(r'data-testid="key-secret">([^<]+)<', made.text)
    assert secret, made.text[:2000]
    till = Browser(tools.server)
    till.sign_in(secret.group(1))
    assert "三里屯店" in till.page("/merchant")  # the till's own store is named
    listed = b.page("/merchant/keys")
    assert secret.group(1) not in listed  # listed without its secret
    key_id = key_named(listed, "till-9")
    r = b.submit(f"/merchant/keys/{key_id}/revoke", {})
    assert r.status_code == 200 and str(r.url).endswith("/merchant/keys")
    gone = till.get("/merchant", headers={"accept": "text/html"})
    assert "/signin" in str(gone.url)  # sent to sign in again
    b.page("/merchant")  # the session of another key goes on


def test_a_rotated_key_without_grace_ends_its_session_and_the_new_one_works(tools: Tools) -> None:
    b = alpha(tools)
    page = b.page("/merchant/keys")
    made = b.submit("/merchant/keys", {"form_key": form_key(page, "key-form"), "name": "till-r",
                                       "store_id": ""})  # fmt: skip
    old = re.search(r'data-testid="key-secret">([^<]+)<', made.text)
    assert old
    till = Browser(tools.server)
    till.sign_in(old.group(1))
    key_id = key_named(made.text, "till-r")
    listed = b.page("/merchant/keys")
    row = listed[listed.index(f'data-key-id="{key_id}"') :]
    rotate_key = re.search(r'name="form_key" value="([^"]+)"', row)
    assert rotate_key
    fields = {"form_key": rotate_key.group(1), "grace_seconds": "0"}
    r = b.submit(f"/merchant/keys/{key_id}/rotate", fields)
    assert r.status_code == 201, re.findall(r'role="alert">([^<]*)<', r.text)
    new = re.search(r'data-testid="key-secret">([^<]+)<', r.text)
    assert new and new.group(1) != old.group(1)
    replay = b.submit(f"/merchant/keys/{key_id}/rotate", fields)  # resubmitted: shown once only
    assert replay.status_code == 201 and 'data-testid="key-replayed"' in replay.text
    assert "/signin" in str(till.get("/merchant", headers={"accept": "text/html"}).url)
    fresh = Browser(tools.server)
    fresh.sign_in(new.group(1))
    fresh.page("/merchant")


def test_pages_in_english(tools: Tools) -> None:
    b = alpha(tools, "en")
    for path in ("/merchant", "/merchant/orders", "/merchant/redeem", "/merchant/statements",
                 "/merchant/keys"):  # fmt: skip
        html = b.page(path)
        assert 'lang="en"' in html and 'aria-current="page"' in html, path


# -- with a payment provider ----------------------------------------------------------------------


def test_with_a_provider_the_split_status_and_the_provider_figures_show(
    db_url: str, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from fastapi.testclient import TestClient

    from funds_kit import member, money
    from jifen.funds import create_payment
    from jifen.web import WebSettings, create_site

    with money(db_url, tmp_path, tmp_path_factory) as m:
        p = create_payment(m.ctx, m.funds, "cafe", order_ref="o-1", member_id=member(m.ctx),
                           amount_fen=5_000, description="午餐")  # fmt: skip
        m.pay(p.out_trade_no)
        m.step()
        site = create_site(m.ctx, funds=m.funds, web=WebSettings(cookie_secure=False))
        with TestClient(site) as b:
            html = b.get("/signin").text
            token = re.search(r'name="csrf" value="([^"]+)"', html)
            assert token
            r = b.post("/signin", data={"csrf": token.group(1), "key": m.keys["cafe"]})
            assert r.status_code == 200 and str(r.url).endswith("/merchant"), r.text[:500]
            listed = b.get("/merchant/orders").text
            row = listed[listed.index(">o-1<") :]
            assert 'data-testid="split-state"' in row[: row.index("</tr>")]
            order = b.get("/merchant/orders/o-1").text
            assert p.out_trade_no in order and 'data-testid="split-row"' in order
            assert 'data-testid="refund-form"' not in order  # refunded through the payment
            statements = b.get("/merchant/statements").text
            assert 'data-testid="st-collected"' in statements
            assert 'data-testid="statement-today"' in statements
