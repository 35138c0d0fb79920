"""Merchant keys per store or till (issue 12): created and shown once, listed without secrets,
revoked at once, rotated with a grace period; a merchant manages only its own."""

from __future__ import annotations

from datetime import timedelta

from api_server import problem
from jifen.alliance import keys
from jifen.alliance.merchants import key_owner
from tools_kit import tools_alliance


def test_a_till_key_is_shown_once_works_at_once_and_is_listed_without_its_secret(
    db_url: str,
) -> None:
    with tools_alliance(db_url) as t:
        server = t.server
        with server.operator() as op:
            r = op.post(
                "/v1/merchants/alpha/keys",
                json={"name": "till-1", "store_id": "s1"},
                headers={"Idempotency-Key": "till-1"},
            )
            assert r.status_code == 201, r.text
            created = r.json()
            till_key, key_id = created["api_key"], created["key"]["key_id"]
            assert till_key.startswith("jfm_alpha_") and created["key"]["status"] == "active"
            assert (created["key"]["store_id"], created["key"]["name"]) == ("s1", "till-1")
            again = op.post(
                "/v1/merchants/alpha/keys",
                json={"name": "till-1", "store_id": "s1"},
                headers={"Idempotency-Key": "till-1"},
            )
            assert again.json()["api_key"] is None  # a replay never shows the key again
            assert again.json()["key"]["key_id"] == key_id
            listed = op.get("/v1/merchants/alpha/keys")
            assert listed.status_code == 200
            assert till_key not in listed.text and "api_key" not in listed.text
            assert {k["name"] for k in listed.json()} == {"default", "till-1"}
            problem(
                op.post("/v1/merchants/alpha/keys", json={"name": "x", "store_id": "s9"}),
                404,
                "merchant.store_not_found",
            )
        with server.client(till_key) as till:
            assert till.get("/v1/merchant").json()["merchant_id"] == "alpha"
            mine = till.get("/v1/merchant/keys").json()
            assert key_id in {k["key_id"] for k in mine}


def test_a_revoked_key_is_refused_at_once_in_this_process(db_url: str) -> None:
    with tools_alliance(db_url) as t:
        server = t.server
        with server.operator() as op:
            made = op.post("/v1/merchants/alpha/keys", json={"name": "till-2"}).json()
        with server.client(made["api_key"]) as till:
            assert till.get("/v1/merchant").status_code == 200  # now in the key cache
            with server.operator() as op:
                r = op.post(f"/v1/merchants/alpha/keys/{made['key']['key_id']}/revoke")
                assert r.status_code == 200 and r.json()["status"] == "revoked", r.text
            problem(till.get("/v1/merchant"), 401, "auth.required")
        with server.client(t.alliance.merchant_keys["alpha"]) as other_key:
            assert other_key.get("/v1/merchant").status_code == 200  # only that key


def test_a_merchant_rotates_its_own_key_and_cannot_touch_anothers(db_url: str) -> None:
    with tools_alliance(db_url) as t:
        server = t.server
        with t.alliance.merchant("alpha") as alpha:
            made = alpha.post("/v1/merchant/keys", json={"name": "till-3", "store_id": "s2"})
            assert made.status_code == 201, made.text
            key_id = made.json()["key"]["key_id"]
        with t.alliance.merchant("beta") as beta:  # another merchant's key: not found
            for suffix, body in (("revoke", None), ("rotate", {"grace_seconds": 0})):
                problem(
                    beta.post(f"/v1/merchant/keys/{key_id}/{suffix}", json=body),
                    404,
                    "key.not_found",
                )
        with server.client(made.json()["api_key"]) as till:
            r = till.post(f"/v1/merchant/keys/{key_id}/rotate", json={"grace_seconds": 600})
            assert r.status_code == 201, r.text
            rotated = r.json()
            assert rotated["old"]["status"] == "expiring" and rotated["key"]["store_id"] == "s2"
            assert till.get("/v1/merchant").status_code == 200  # the old key, in its grace
        with server.client(rotated["api_key"]) as new:
            assert new.get("/v1/merchant").json()["merchant_id"] == "alpha"
            r = new.post(
                f"/v1/merchant/keys/{rotated['key']['key_id']}/rotate", json={"grace_seconds": 0}
            )
            assert r.status_code == 201 and r.json()["old"]["status"] == "revoked"
            problem(new.get("/v1/merchant"), 401, "auth.required")  # revoked at once
        with t.alliance.merchant("alpha") as alpha:
            problem(
                alpha.post(
                    f"/v1/merchant/keys/{rotated['key']['key_id']}/rotate",
                    json={"grace_seconds": 0},
                ),
                409,
                "key.revoked",
            )
            problem(
                alpha.post(
                    f"/v1/merchant/keys/{key_id}/rotate", json={"grace_seconds": 8 * 86_400}
                ),
                422,
                "request.invalid",
            )


def test_a_rotated_key_stops_at_the_end_of_its_grace_period(db_url: str) -> None:
    with tools_alliance(db_url) as t:
        ctx, now = t.server.ctx, t.server.clock.now()
        info, old_key = keys.create_key(ctx, "alpha", name="till-4", store_id=None, now=now)
        new, new_key, old = keys.rotate_key(
            ctx, "alpha", info.key_id, now, grace=timedelta(minutes=10)
        )
        assert old.expires_at == now + timedelta(minutes=10)
        owner = key_owner(ctx, old_key)
        assert owner is not None and owner.key_id == info.key_id
        t.server.set_clock(now + timedelta(minutes=10))
        assert key_owner(ctx, old_key) is None and key_owner(ctx, new_key) is not None
        listed = {k.key_id: k.status for k in keys.list_keys(ctx, "alpha", ctx.clock.now())}
        assert (listed[info.key_id], listed[new.key_id]) == ("revoked", "active")
