"""The auditor role (issue 12): a read-only credential that reads the journal, blocks, lane
tips, statements, liabilities and lookup records and runs ``jifen verify`` remotely — and
nothing else: every other route of the app answers it 403 ``auth.forbidden``."""

from __future__ import annotations

import itertools
import time
from typing import Any

from api_server import ApiClient, problem
from jifen.settlement import verifications
from test_api_authz import _dummy_path, _operations
from tools_kit import Tools, tools_alliance

AUDITOR_ROUTES = {
    ("GET", "/v1/audit/entries"),
    ("GET", "/v1/audit/blocks"),
    ("GET", "/v1/audit/lanes"),
    ("GET", "/v1/audit/statements"),
    ("GET", "/v1/audit/liabilities"),
    ("GET", "/v1/audit/records"),
    ("POST", "/v1/audit/verifications"),
    ("GET", "/v1/audit/verifications"),
    ("GET", "/v1/audit/verifications/{verification_id}"),
}
PUBLIC = ("/v1/public/", "/healthz", "/readyz", "/v1/providers/")


def _auditor(t: Tools) -> tuple[str, str]:
    with t.server.operator() as op:
        r = op.post("/v1/auditors", json={"name": "kpmg-2026"})
        assert r.status_code == 201, r.text
        return str(r.json()["key"]["key_id"]), str(r.json()["api_key"])


def _all(client: ApiClient, path: str, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    for _ in range(1000):  # bounded: a page at a time until the last
        page = client.get(path, params={**params, "cursor": cursor} if cursor else params).json()
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("the list never ended")


def test_the_auditor_is_refused_every_route_outside_its_list(db_url: str) -> None:
    with tools_alliance(db_url) as t:
        _, key = _auditor(t)
        operations = _operations(t.server)
        listed = {(m, p) for m, p, _ in operations}
        assert listed >= AUDITOR_ROUTES
        outside = [op for op in operations if (op[0], op[1]) not in AUDITOR_ROUTES]
        outside = [op for op in outside if not op[1].startswith(PUBLIC)]
        outside.append(("PUT", "/v1/clock", {}))  # hidden from the document, guarded the same
        assert len(outside) >= 60, len(outside)
        with t.server.client(key) as auditor:
            for method, path, operation in outside:
                body = {} if method != "GET" else None
                r = auditor.request(method, _dummy_path(path, operation), json=body)
                assert r.status_code == 403, (method, path, r.status_code, r.text)
                problem(r, 403, "auth.forbidden")
            for method, path, _ in outside:  # real ids too: still refused, not found
                real = path.replace("{merchant_id}", "alpha").replace("{member_id}", t.members[0])
                if real != path and "{" not in real:
                    r = auditor.request(method, real, json={} if method != "GET" else None)
                    problem(r, 403, "auth.forbidden")
        with t.server.operator() as op:  # nothing was written by the attempts
            assert {m["merchant_id"] for m in op.get("/v1/merchants").json()["items"]} == {
                "alpha",
                "beta",
            }


def test_the_auditor_reads_the_journal_blocks_and_lane_tips_and_they_agree(db_url: str) -> None:
    with tools_alliance(db_url) as t:
        _, key = _auditor(t)
        with t.server.client(key) as auditor:
            entries = _all(auditor, "/v1/audit/entries", limit=7)
            blocks = _all(auditor, "/v1/audit/blocks", limit=3)
            lanes = auditor.get("/v1/audit/lanes").json()
            assert auditor.get("/v1/audit/liabilities").json()["outstanding_points"] > 0
            statements = auditor.get("/v1/audit/statements").json()["items"]
            assert {s["merchant_id"] for s in statements} == {"alpha", "beta"}
        assert len({e["entry_id"] for e in entries}) == len(entries) > 0
        assert sum(b["entry_count"] for b in blocks) == len(entries)
        for e in entries:
            assert sum(leg["amount"] for leg in e["legs"] if leg["asset"] == "POINTS") == 0
        kinds = {e["kind"] for e in entries}
        assert {"earn", "release", "settle"} <= kinds
        for lane in lanes:  # each lane's tip is its highest block, chained from the one before
            own = [b for b in blocks if b["chain_id"] == lane["chain_id"]]
            if not own:  # a lane no entry went to yet
                assert lane["height"] == 0
                continue
            assert own[-1]["height"] == lane["height"]
            assert own[-1]["block_hash"] == lane["block_hash"]
            for before, after in itertools.pairwise(own):
                assert after["prev_hash"] == before["block_hash"]


def test_the_auditor_runs_verify_remotely_and_reads_its_report(db_url: str) -> None:
    with tools_alliance(db_url) as t:
        key_id, key = _auditor(t)
        with t.server.client(key) as auditor:
            r = auditor.post("/v1/audit/verifications", headers={"Idempotency-Key": "verify-1"})
            assert r.status_code == 202, r.text
            run = r.json()
            assert run["state"] in ("running", "passed")
            assert run["requested_by"] == f"auditor key:{key_id}"
            deadline = time.monotonic() + 60
            while run["state"] == "running" and time.monotonic() < deadline:
                time.sleep(0.05)
                run = auditor.get(f"/v1/audit/verifications/{run['verification_id']}").json()
            assert run["state"] == "passed", run
            report = run["report"]
            assert report["ok"] and report["findings"] == [] and report["entries"] > 0
            lanes = {str(lane["chain_id"]): lane for lane in auditor.get("/v1/audit/lanes").json()}
            assert {k: v["block_hash"] for k, v in report["lanes"].items()} == {
                k: v["block_hash"] for k, v in lanes.items()
            }
            listed = auditor.get("/v1/audit/verifications").json()["items"]
            assert [v["verification_id"] for v in listed] == [run["verification_id"]]
            problem(auditor.get("/v1/audit/verifications/v0"), 404, "verification.not_found")
        _, other_key = _auditor(t)
        with t.server.client(other_key) as other:  # keys are per auditor: no one else's replay
            r = other.post("/v1/audit/verifications", headers={"Idempotency-Key": "verify-1"})
            assert r.status_code == 202 and "Idempotent-Replayed" not in r.headers, r.text
        with t.server.operator() as op:
            r = op.post(f"/v1/auditors/{key_id}/revoke")
            assert r.status_code == 200 and r.json()["status"] == "revoked", r.text
            statuses = {a["key_id"]: a["status"] for a in op.get("/v1/auditors").json()}
            assert statuses[key_id] == "revoked" and len(statuses) == 2
        with t.server.client(key) as auditor:
            problem(auditor.get("/v1/audit/lanes"), 401, "auth.required")


def test_asking_for_a_verification_while_one_runs_answers_the_running_one(db_url: str) -> None:
    with tools_alliance(db_url) as t:
        ctx = t.server.ctx
        first, new = verifications.start_verification(ctx, "auditor key:k1")
        again, again_new = verifications.start_verification(ctx, "auditor key:k2")
        assert (new, again_new) == (True, False)
        assert again.verification_id == first.verification_id
        verifications.run_verification(ctx, first.verification_id)
        done = verifications.get_verification(ctx, first.verification_id)
        assert done.state == "passed" and done.finished_at is not None
        _, fresh = verifications.start_verification(ctx, "auditor key:k2")
        assert fresh
