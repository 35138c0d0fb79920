"""Proof of liabilities over HTTP (issue 15, docs/transparency.md), on both stores: the public
feed of signed checkpoints (oldest first, paged), the latest and one by number, their 404s as
RFC 9457 problems; a member's own proof file, which verifies against the feed's root and total
and names nobody else; the operator taking a checkpoint once per key, and refused (409) when the
balances do not add up to the ledger."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import pytest
from sqlalchemy import update

from alliance_http import Alliance, open_alliance_over_http
from api_server import ApiClient, Server, problem, served
from jifen.ledger import _tables as lt
from jifen.transparency import Proof, verify_proof
from jifen.transparency import checkpoint as cp


@dataclass
class Proofs:
    server: Server
    alliance: Alliance
    members: list[str]  # [0] and [1] have points, [2] has none
    tokens: list[ApiClient]

    def take(self, key: str) -> dict[str, Any]:
        with self.server.operator() as op:
            r = op.post("/v1/checkpoints", headers={"Idempotency-Key": key})
        assert r.status_code == 201, r.text
        return dict(r.json())


@pytest.fixture
def proofs(db_url: str) -> Iterator[Proofs]:
    with served(db_url) as server:
        alliance = open_alliance_over_http(server, {"tea": "cafe"})
        members = [alliance.enrol(p) for p in ("13800138000", "13900139000", "13700137000")]
        alliance.order("tea", "t-1", members[0], 12_300)
        alliance.order("tea", "t-2", members[1], 45_600)
        clients = [alliance.member(m) for m in members]
        try:
            yield Proofs(server, alliance, members, clients)
        finally:
            for c in clients:
                c.close()


def test_before_the_first_checkpoint_every_read_is_a_clear_404(proofs: Proofs) -> None:
    with proofs.server.client() as anyone:
        assert anyone.get("/v1/public/checkpoints").json() == {"items": [], "next_cursor": None}
        body = problem(anyone.get("/v1/public/checkpoints/latest"), 404, "checkpoint.not_found")
        assert "{" not in body["detail"]
        problem(anyone.get("/v1/public/checkpoints/1"), 404, "checkpoint.not_found")
    problem(proofs.tokens[0].get("/v1/me/liability-proof"), 404, "proof.not_found")


def test_the_feed_is_paged_oldest_first_and_each_checkpoint_chains_to_the_one_before(
    proofs: Proofs,
) -> None:
    taken = [proofs.take(f"cp-{i}") for i in range(3)]
    with proofs.server.client() as anyone:
        first = anyone.get("/v1/public/checkpoints", params={"limit": 2}).json()
        rest = anyone.get(
            "/v1/public/checkpoints", params={"limit": 2, "cursor": first["next_cursor"]}
        ).json()
        assert rest["next_cursor"] is None
        feed = first["items"] + rest["items"]
        assert feed == taken
        seqs = [c["checkpoint"]["seq"] for c in feed]
        assert seqs == list(range(seqs[0], seqs[0] + 3))
        for before, after in pairwise(feed):
            assert after["checkpoint"]["prev"] == before["digest"]
        for c in feed:  # the document is answered exactly as it was signed
            assert cp.digest(c["checkpoint"]) == c["digest"]
            assert set(c["signature"]) >= {"algorithm", "key_id", "public_key", "value"}
        assert anyone.get("/v1/public/checkpoints/latest").json() == feed[-1]
        assert anyone.get(f"/v1/public/checkpoints/{seqs[1]}").json() == feed[1]
        problem(anyone.get("/v1/public/checkpoints/999"), 404, "checkpoint.not_found")
        problem(anyone.get("/v1/public/checkpoints", params={"cursor": "x"}), 422,
                "request.invalid")  # fmt: skip


def test_a_members_proof_verifies_against_the_feeds_root_and_total_and_is_their_own(
    proofs: Proofs,
) -> None:
    published = proofs.take("cp-1")
    snap, seq = published["checkpoint"]["snapshot"], published["checkpoint"]["seq"]
    assert snap["members"] == 2 and snap["total"] == 123 + 456
    for i, points in ((0, 123), (1, 456)):
        r = proofs.tokens[i].get("/v1/me/liability-proof")
        assert r.status_code == 200, r.text
        assert r.headers["content-disposition"] == f'attachment; filename="jifen-proof-{seq}.json"'
        file = r.json()
        assert file["format"] == "jifen-liability-proof/1"
        assert {k: file[k] for k in ("checkpoint", "signature", "digest")} == published
        proof = Proof.from_dict(file["proof"])
        verify_proof(proof, bytes.fromhex(snap["root"]), snap["total"])
        assert (proof.member_id, proof.balance) == (proofs.members[i], points)
        assert proofs.members[1 - i] not in r.text  # nothing of the other member
    # no parameter names a member: one given anyway changes nothing
    r = proofs.tokens[0].get("/v1/me/liability-proof", params={"member_id": proofs.members[1]})
    assert r.status_code == 200 and r.json()["proof"]["member_id"] == proofs.members[0]
    with proofs.server.client() as anyone:
        document = anyone.get("/openapi.json").json()
    operation = document["paths"]["/v1/me/liability-proof"]["get"]
    assert [p["name"] for p in operation["parameters"]] == ["checkpoint"]
    assert set(operation["responses"]) == {"200", "401", "403", "404", "422", "429", "503"}
    # a member without points has no leaf; a checkpoint that does not exist is not found
    problem(proofs.tokens[2].get("/v1/me/liability-proof"), 404, "proof.not_found")
    r = proofs.tokens[0].get("/v1/me/liability-proof", params={"checkpoint": 999})
    problem(r, 404, "checkpoint.not_found")
    later = proofs.take("cp-2")["checkpoint"]["seq"]
    old = proofs.tokens[0].get("/v1/me/liability-proof", params={"checkpoint": seq}).json()
    assert old["checkpoint"]["seq"] == seq != later
    assert proofs.tokens[0].get("/v1/me/liability-proof").json()["checkpoint"]["seq"] == later


def test_the_operator_takes_a_checkpoint_once_per_key_and_no_one_else_may(
    proofs: Proofs,
) -> None:
    with proofs.server.operator() as op:
        key = {"Idempotency-Key": "cp-once"}
        first, again = (op.post("/v1/checkpoints", headers=key) for _ in range(2))
        assert first.status_code == again.status_code == 201, first.text
        assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
        assert "Idempotent-Replayed" not in first.headers
        other = op.post("/v1/checkpoints", headers={"Idempotency-Key": "cp-other"}).json()
        assert other["checkpoint"]["seq"] == first.json()["checkpoint"]["seq"] + 1
        feed = op.get("/v1/public/checkpoints").json()["items"]
        assert [c["checkpoint"]["seq"] for c in feed].count(first.json()["checkpoint"]["seq"]) == 1
        r = ApiClient.request(op, "POST", "/v1/checkpoints", headers={"Idempotency-Key": ""})
        problem(r, 400, "idempotency.key_required")
    problem(proofs.tokens[0].post("/v1/checkpoints"), 403, "auth.forbidden")
    with proofs.server.client() as anyone:
        problem(anyone.post("/v1/checkpoints"), 401, "auth.required")


def test_a_snapshot_that_does_not_add_up_is_refused_with_409_and_nothing_is_published(
    proofs: Proofs,
) -> None:
    with proofs.server.ctx.writer.begin() as conn:  # a stored balance gone wrong
        conn.execute(
            update(lt.balances)
            .where(lt.balances.c.account_id == f"member:{proofs.members[0]}:pending")
            .values(amount=lt.balances.c.amount + 1)
        )
    with proofs.server.operator() as op:
        body = problem(op.post("/v1/checkpoints"), 409, "checkpoint.totals_differ")
        assert "{" not in body["detail"]
        body = problem(
            op.post("/v1/checkpoints", headers={"Accept-Language": "en"}),
            409,
            "checkpoint.totals_differ",
        )
        assert "jifen verify" in body["detail"]
        assert op.get("/v1/public/checkpoints").json()["items"] == []
