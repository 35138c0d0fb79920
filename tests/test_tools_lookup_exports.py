"""The audited member lookup and the CSV exports (issue 12)."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from pydantic import ValidationError

from api_server import problem
from jifen.api.schemas._tools import LookupIn
from jifen.settlement import exports
from tools_kit import tools_alliance


def test_every_lookup_is_audited_with_who_when_what_and_why(db_url: str) -> None:
    with tools_alliance(db_url) as t:
        server, (alpha_member, _) = t.server, t.members
        with server.operator() as op:
            by_phone = op.post(
                "/v1/member-lookups", json={"member": "138 0013 8000", "reason": "客诉 #1234"}
            )
            assert by_phone.status_code == 200, by_phone.text
            found = by_phone.json()
            assert found["member"]["member_id"] == alpha_member
            assert found["member"]["phone_masked"] == "138****8000"
            by_id = op.post(
                "/v1/member-lookups", json={"member": alpha_member, "reason": "复核"}
            ).json()
            assert by_id["member"]["member_id"] == alpha_member
            nobody = op.post(
                "/v1/member-lookups", json={"member": "13311112222", "reason": "核实"}
            ).json()
            assert nobody["member"] is None  # not found, and still recorded
            for body in (
                {"member": "13800138000", "reason": "  "},
                {"member": "12345", "reason": "x"},
                {"reason": "x"},
            ):
                problem(op.post("/v1/member-lookups", json=body), 422, "request.invalid")
            records = op.get("/v1/audit/records").json()["items"]
        assert [(r["query"], r["subject"], r["reason"]) for r in records] == [
            ("phone 133****2222", None, "核实"),
            (f"member_id {alpha_member}", alpha_member, "复核"),
            ("phone 138****8000", alpha_member, "客诉 #1234"),
        ]
        assert all(r["actor"].startswith("operator key:k") for r in records)
        assert all(r["at"] == records[0]["at"] for r in records)
        assert "13800138000" not in str(records)
        with t.alliance.merchant("alpha") as merchant:
            problem(
                merchant.post("/v1/member-lookups", json={"member": "13800138000", "reason": "x"}),
                403,
                "auth.forbidden",
            )
            problem(merchant.get("/v1/audit/records"), 403, "auth.forbidden")


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_statements_export_is_bilingual_csv_own_for_a_merchant_all_for_the_operator(
    db_url: str,
) -> None:
    with tools_alliance(db_url) as t:
        server = t.server
        days = {"from": "2026-03-01", "to": "2026-03-31"}
        with server.operator() as op:
            r = op.get("/v1/exports/statements.csv", params=days)
            assert r.status_code == 200, r.text
            assert r.headers["content-type"].startswith("text/csv")
            assert "attachment" in r.headers["content-disposition"]
            rows = _rows(r.text)
            assert rows[0] == list(exports.STATEMENT_COLUMNS)
            assert rows[0][0] == "营业日 business_date"
            assert {row[1] for row in rows[1:]} == {"alpha", "beta"}
            listed = op.get("/v1/statements", params={"limit": 100}).json()["items"]
            assert len(rows) - 1 == len(listed)
            one = _rows(
                op.get("/v1/exports/statements.csv", params={**days, "merchant_id": "beta"}).text
            )
            assert {row[1] for row in one[1:]} == {"beta"}
            backwards = {"from": "2026-03-31", "to": "2026-03-01"}  # no day: the header alone
            empty = _rows(op.get("/v1/exports/statements.csv", params=backwards).text)
            assert empty == [list(exports.STATEMENT_COLUMNS)]
        with t.alliance.merchant("beta") as beta:
            own = _rows(beta.get("/v1/exports/statements.csv", params=days).text)
            assert own == one
            problem(
                beta.get("/v1/exports/statements.csv", params={**days, "merchant_id": "alpha"}),
                403,
                "auth.forbidden",
            )


def test_orders_export_pages_through_a_long_range_without_losing_or_repeating_a_row(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(exports, "PAGE_ROWS", 2)  # many pages of a few orders
    with tools_alliance(db_url) as t:
        refs = [f"a-{n}" for n in range(2, 8)]
        for ref in refs:  # paid a minute apart: the export's order is the payment times'
            t.server.set_clock(t.server.clock.now() + timedelta(minutes=1))
            t.alliance.order("alpha", ref, t.members[0], 1_000)
        day = t.server.clock.now().date()
        params = {"from": (day - timedelta(days=30)).isoformat(), "to": day.isoformat()}
        with t.server.operator() as op:
            everyone = _rows(op.get("/v1/exports/orders.csv", params=params).text)
        assert everyone[0] == list(exports.ORDER_COLUMNS)
        assert sorted(row[2] for row in everyone[1:]) == sorted(["a-1", "b-1", *refs])
        with t.alliance.merchant("alpha") as alpha:
            own = _rows(alpha.get("/v1/exports/orders.csv", params=params).text)
        assert [row[2] for row in own[1:]] == ["a-1", *refs]  # oldest paid first
        first = own[1]
        assert first[4:8] == ["50000", "500", "1", "released"]
        assert first[0].endswith("Z") and first[1] == "alpha"


@pytest.mark.parametrize("reason", ["\x1c", "\x1d", "\x1e", "\x1f", " \x1d\t", "\u3000"])
def test_a_reason_of_only_white_space_is_refused_by_the_schema_itself(reason: str) -> None:
    """The schema and the service agree on what is blank: the fuzzer found ``"\\x1d"``, which the
    schema's regex engine took for a character and ``str.strip()`` for white space, so a
    schema-valid body was refused by the service (request.invalid without a field)."""
    assert not reason.strip()
    with pytest.raises(ValidationError):
        LookupIn(member="m0123456789abcde", reason=reason)
    assert LookupIn(member="m0123456789abcde", reason="\x1d客服回电 callback").reason
