"""Bulk import from CSV (issue 12): a dry run writes nothing and lists every row's errors; a
file with errors writes nothing; a clean file is written whole; a re-run reports every row
unchanged; a row that contradicts the store is that row's error. Members go through enrolment:
sealed phones, consents with the policy version."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from api_server import SECRET, T0, ApiClient, problem, served
from jifen.alliance import imports
from jifen.alliance.members import POLICY_VERSION, find_by_phone, member_id_for
from jifen.app import open_alliance
from jifen.store import tables as t

MERCHANTS = (
    "商家编号 merchant_id,名称 name,行业 category,营业执照名称 legal_name,"
    "统一社会信用代码 licence_no,联系人 contact_name,门店 stores\n"
    "tea,茶馆,cafe,茶馆有限公司,91310000MA1FL0TEA1,王,t1:人民广场店:上海;t2:徐汇店\n"
    "books,书店,bookshop,书店有限公司,91310000MA1FL0BOK2,,\n"
)
BAD_MERCHANTS = (
    "merchant_id,name,category,legal_name,licence_no\n"
    "Tea!,茶馆,cafe,茶馆有限公司,91310000MA1FL0TEA1\n"  # row 2: bad id
    "books,书店,Book Shop,书店有限公司,123\n"  # row 3: bad category and licence
    "gym,健身房,gym,,91310000MA1FL0GYM3\n"  # row 4: legal name missing
    "books,书店,bookshop,书店有限公司,91310000MA1FL0BOK2\n"  # row 5: fine…
    "books,书店,bookshop,书店有限公司,91310000MA1FL0BOK2\n"  # row 6: …but twice
)
MEMBERS = "phone,terms,privacy,marketing\n13700137000,1,1,0\n+86 136-0013-6000,是,是,是\n"


def _post(op: ApiClient, kind: str, body: str, **params: Any) -> Any:
    return op.post(
        f"/v1/imports/{kind}",
        content=body.encode(),
        params=params,
        headers={"Content-Type": "text/csv"},
    )


def _merchants(op: ApiClient) -> set[str]:
    return {m["merchant_id"] for m in op.get("/v1/merchants").json()["items"]}


def test_a_dry_run_lists_every_rows_errors_and_writes_nothing(db_url: str) -> None:
    with served(db_url) as server, server.operator() as op:
        report = problem(
            _post(op, "merchants", BAD_MERCHANTS, dry_run="true"), 422, "import.rows_invalid"
        )
        found = {(e["row"], e["column"], e["code"]) for e in report["errors"]}
        assert found == {
            (2, "merchant_id", "import.invalid_value"),
            (3, "category", "import.invalid_value"),
            (3, "licence_no", "import.invalid_value"),
            (4, "legal_name", "import.missing_value"),
            (6, "merchant_id", "import.duplicate_row"),
        }
        checked = imports.import_merchants(server.ctx, BAD_MERCHANTS.encode(), dry_run=True, now=T0)
        assert (checked.dry_run, checked.written, checked.rows) == (True, False, 5)
        assert all(e["message"] for e in report["errors"])
        assert _merchants(op) == set()
        refused = problem(_post(op, "merchants", BAD_MERCHANTS), 422, "import.rows_invalid")
        assert {(e["row"], e["code"]) for e in refused["errors"]} == {
            (row, code) for row, _, code in found
        }
        assert _merchants(op) == set()  # the valid row 5 was not written either


def test_a_clean_file_is_imported_whole_and_a_rerun_changes_nothing(db_url: str) -> None:
    with served(db_url) as server, server.operator() as op:
        dry = _post(op, "merchants", MERCHANTS, dry_run="true").json()
        assert [(r["id"], r["outcome"]) for r in dry["results"]] == [
            ("tea", "new"),
            ("books", "new"),
        ]
        assert _merchants(op) == set()
        done = _post(op, "merchants", MERCHANTS)
        assert done.status_code == 200 and done.json()["written"], done.text
        assert "jfm_" not in done.text  # an import hands out no keys
        tea = op.get("/v1/merchants/tea").json()
        assert tea["stores"] == [
            {"store_id": "t1", "name": "人民广场店", "city": "上海"},
            {"store_id": "t2", "name": "徐汇店", "city": ""},
        ]
        assert tea["kyc"]["licence_no"] == "91310000MA1FL0TEA1"
        again = _post(op, "merchants", MERCHANTS).json()
        assert (again["new"], again["unchanged"], again["errors"]) == (0, 2, [])
        changed = MERCHANTS.replace("茶馆,cafe", "茶楼,cafe")
        refused = problem(_post(op, "merchants", changed), 422, "import.rows_invalid")
        assert [(e["row"], e["code"]) for e in refused["errors"]] == [(2, "import.conflict")]
        assert op.get("/v1/merchants/tea").json()["name"] == "茶馆"
        # imported merchants get their keys per store or till afterwards
        key = op.post("/v1/merchants/tea/keys", json={"name": "till-1", "store_id": "t1"})
        with server.client(key.json()["api_key"]) as till:
            assert till.get("/v1/merchant").json()["merchant_id"] == "tea"


def test_members_are_enrolled_like_one_at_a_time_with_sealed_phones_and_consents(
    db_url: str,
) -> None:
    with served(db_url) as server:
        with server.operator() as op:
            bad = "phone,terms,privacy\n12345,1,1\n13500135000,1,0\n13500135000,maybe,1\n"
            report = problem(_post(op, "members", bad, dry_run="true"), 422, "import.rows_invalid")
            assert {(e["row"], e["column"], e["code"]) for e in report["errors"]} == {
                (2, "phone", "import.invalid_value"),
                (3, "privacy", "member.consent_required"),
                (4, "terms", "import.invalid_value"),
            }
            done = _post(op, "members", MEMBERS).json()
            assert (done["new"], done["written"]) == (2, True)
            ids = [r["id"] for r in done["results"]]
            profile = op.get(f"/v1/members/{ids[1]}").json()
            assert profile["phone_masked"] == "136****6000"
            assert profile["consents"] == {"terms": True, "privacy": True, "marketing": True}
            again = _post(op, "members", MEMBERS).json()
            assert (again["new"], again["unchanged"]) == (0, 2)
            other = MEMBERS.replace("13700137000,1,1,0", "13700137000,1,1,1")
            refused = problem(_post(op, "members", other), 422, "import.rows_invalid")
            assert [(e["row"], e["code"]) for e in refused["errors"]] == [(2, "import.conflict")]
        ctx = server.ctx
        assert (
            find_by_phone(ctx, "13700137000").member_id
            == ids[0]
            == member_id_for(ctx, "13700137000")
        )
        with ctx.engine.connect() as conn:
            sealed = conn.execute(select(t.members.c.phone_sealed)).scalars().all()
            policies = set(conn.execute(select(t.consents.c.policy_version)).scalars())
        assert sealed and not any("13700137000" in s for s in sealed)
        assert policies == {POLICY_VERSION}


def test_a_file_that_is_not_a_usable_csv_is_one_clear_error(db_url: str, tmp_path: Any) -> None:
    ctx = open_alliance(db_url, secret=SECRET)
    try:
        for data, code in (
            (b"\xff\xfe not utf-8", "import.malformed"),
            (b"", "import.malformed"),
            (b"phone,terms\n", "import.missing_column"),
            (b"phone,terms,privacy,nickname\n", "import.unknown_column"),
            (b"phone,terms,privacy\n13700137000,1,1,extra\n", "import.malformed"),
        ):
            report = imports.import_members(ctx, data, dry_run=True, now=T0)
            assert [e.code for e in report.errors][:1] == [code], (data, report.errors)
        too_many = "phone,terms,privacy\n" + "13700137000,1,1\n" * (imports.MAX_ROWS + 1)
        report = imports.import_members(ctx, too_many.encode(), dry_run=True, now=T0)
        assert [e.code for e in report.errors] == ["import.malformed"]
        bom = "\ufeffphone,terms,privacy\n13700137000,1,1\n".encode()
        assert imports.import_members(ctx, bom, dry_run=True, now=T0).errors == []
    finally:
        ctx.engine.dispose()
