"""Where every table goes on a distributed PostgreSQL-compatible engine (Citus first): pure data.

docs/scaling.md explains the plan for operators; this module is the same plan in a form a program
can read, so that it cannot drift from the schema or from the page. ``tests/test_scaling_schema.py``
migrates a store and checks, table by table, that

- every table has exactly one entry in ``PLAN`` (a new table without one fails the test);
- every distribution column exists, and every primary key, unique constraint and unique index of
  a distributed table includes it (Citus enforces uniqueness only inside one shard);
- every foreign key between distributed tables stays inside one co-location group and joins on
  the distribution column; no reference or local table points at a distributed one;
- what breaks those rules today is exactly ``CHANGES`` (each with the change it needs), and both
  tables in docs/scaling.md say exactly what ``PLAN`` and ``CHANGES`` say.

Why a module rather than a table parsed out of the page: the plan is typed and importable (the
test, and later a migration that distributes a store, read the same values); the page's tables are
checked against it, so the words an operator reads are the plan the code holds.

The placements:

- ``Distributed(column, group)``: hash-distributed on ``column``
  (``create_distributed_table(table, column, colocate_with => ...)``). Tables of one ``group`` are
  co-located: rows with the same distribution value live on the same shard, so one transaction
  that names one value is a single-shard transaction.
- ``Reference()``: small, read everywhere, written rarely: one copy on every node
  (``create_reference_table``).
- ``Local()``: stays a plain table on the coordinator: operator records that no hot path writes
  and that no distributed table joins.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Distributed:
    column: str
    group: str  # the co-location group; its first table in PLAN order is the group's anchor


@dataclass(frozen=True)
class Reference:
    pass


@dataclass(frozen=True)
class Local:
    pass


Placement = Distributed | Reference | Local

LANE = "lane"
"""The ledger's group: everything one member's operations write, keyed by the member's home lane
(an integer: ``chains.chain_id``, ``balances.bucket``)."""
MEMBER = "member"
MERCHANT = "merchant"

PLAN: Mapping[str, Placement] = {
    # -- the ledger: one member's operations stay on the shard of the member's home lane --------
    "chains": Distributed("chain_id", LANE),
    "blocks": Distributed("chain_id", LANE),
    "entries": Distributed("chain_id", LANE),
    "legs": Distributed("chain_id", LANE),
    "lots": Distributed("chain_id", LANE),
    "balances": Distributed("bucket", LANE),
    "caps": Distributed("chain_id", LANE),
    "accounts": Reference(),
    "ledger_meta": Reference(),
    # -- members: their own rows, by member id ---------------------------------------------------
    "members": Distributed("member_id", MEMBER),
    "consents": Distributed("member_id", MEMBER),
    "reminders": Distributed("member_id", MEMBER),
    "redemption_codes": Distributed("code_hash", "redemption_codes"),
    # -- callers' idempotency keys: spread by the key itself -------------------------------------
    "idempotency": Distributed("idem_key", "idempotency"),
    # -- what everyone reads: rules, merchants, keys, settings, provider set-up ------------------
    "rule_versions": Reference(),
    "merchants": Reference(),
    "api_keys": Reference(),
    "settings": Reference(),
    "provider_accounts": Reference(),
    "split_receivers": Reference(),
    "split_plans": Reference(),
    # -- money by merchant: statements, payments and everything that follows one payment ---------
    "statements": Distributed("merchant_id", MERCHANT),
    "payments": Distributed("merchant_id", MERCHANT),
    "split_orders": Distributed("merchant_id", MERCHANT),
    "split_lines": Distributed("merchant_id", MERCHANT),
    "refunds": Distributed("merchant_id", MERCHANT),
    "split_returns": Distributed("merchant_id", MERCHANT),
    "payouts": Distributed("merchant_id", MERCHANT),
    "provider_events": Distributed("event_id", "provider_events"),
    # -- the operator's own records, written by the daily jobs ------------------------------------
    "job_runs": Local(),
    "reconciliations": Local(),
    "large_value_alerts": Local(),
    "audit_records": Local(),
    "verification_runs": Local(),
    # -- webhooks: subscriptions read by every event write; the outbox by subscription ---------
    "webhook_subscriptions": Reference(),
    "webhook_deliveries": Distributed("subscription_id", "webhook_deliveries"),
    # -- the consoles: a session is read by every page its browser opens ------------------------
    "web_sessions": Distributed("session_hash", "web_sessions"),
    "signin_codes": Distributed("phone_key", "signin_codes"),
    "privacy_acks": Distributed("member_id", MEMBER),
    # -- referral rewards (docs/referrals.md) ------------------------------------------------------
    "referral_links": Distributed("member_id", MEMBER),
    "merchant_recruiters": Reference(),
    "referral_rewards": Distributed("reward_id", "referral_rewards"),
    "payees": Distributed("member_id", MEMBER),
    "referral_payout_batches": Local(),
    "referral_payout_lines": Local(),
    # -- proof of liabilities (docs/transparency.md) -------------------------------------------
    "checkpoints": Local(),
    "checkpoint_members": Distributed("member_id", MEMBER),
    "checkpoint_nodes": Distributed("seq", "checkpoint_nodes"),
}

CHANGES: Mapping[tuple[str, str], str] = {
    (
        "entries",
        "primary key (entry_id)",
    ): "primary key (chain_id, entry_id); still unique across lanes, because one key always goes "
    "to one lane (its member's home lane; an earn's lane is fixed by its order claim)",
    (
        "entries",
        "unique (idem_key)",
    ): "unique (chain_id, idem_key), for the same reason",
    (
        "entries",
        "unique (reverses)",
    ): "unique (chain_id, reverses): every reversal of an entry goes to one lane (its member's "
    "home lane, else the lane of the entry itself)",
    (
        "legs",
        "no column chain_id",
    ): "add chain_id (the lane of its entry); primary key (chain_id, entry_id, leg_no)",
    (
        "legs",
        "foreign key (entry_id) -> entries (entry_id)",
    ): "foreign key (chain_id, entry_id) -> entries (chain_id, entry_id)",
    (
        "lots",
        "no column chain_id",
    ): "add chain_id (the member's home lane); primary key (chain_id, lot_id)",
    (
        "caps",
        "no column chain_id",
    ): "add chain_id (the home lane of the member the cap counts); primary key (chain_id, cap_key)",
    (
        "reminders",
        "member_id is VARCHAR(64), its group's VARCHAR(32)",
    ): "member_id VARCHAR(32), as in members: co-located tables share one distribution type",
    (
        "members",
        "unique (phone_lookup)",
    ): "move the one-member-per-phone check to a table member_phones (phone_lookup primary key, "
    "member_id) distributed by phone_lookup; enrolling writes both",
    (
        "payments",
        "primary key (out_trade_no)",
    ): "primary key (merchant_id, out_trade_no); out_trade_no derives from (merchant, order_ref)",
    (
        "payments",
        "unique (transaction_id)",
    ): "unique (merchant_id, transaction_id): a provider transaction is unique per merchant",
    (
        "split_orders",
        "primary key (out_order_no)",
    ): "primary key (merchant_id, out_order_no)",
    (
        "split_lines",
        "no column merchant_id",
    ): "add merchant_id; primary key (merchant_id, out_order_no, receiver)",
    (
        "refunds",
        "primary key (out_refund_no)",
    ): "primary key (merchant_id, out_refund_no)",
    (
        "refunds",
        "unique (out_trade_no, refund_ref)",
    ): "unique (merchant_id, out_trade_no, refund_ref)",
    (
        "split_returns",
        "no column merchant_id",
    ): "add merchant_id; primary key (merchant_id, out_return_no)",
    (
        "payouts",
        "primary key (out_payout_no)",
    ): "primary key (merchant_id, out_payout_no)",
}
"""What in today's schema breaks a rule of the plan, and the change it needs (table, what breaks
→ change). Until a change is made its line stays here and in docs/scaling.md; once made, the
test fails until the line is deleted from both."""


def citus_ddl() -> list[str]:
    """The Citus calls that place the tables, in an order Citus accepts: reference tables first
    (distributed tables may point at them), then each co-location group from its anchor. They run
    only once ``CHANGES`` are made: Citus refuses a unique key without the distribution column."""
    calls = [f"SELECT create_reference_table('{t}');" for t, p in PLAN.items() if p == Reference()]
    anchors: dict[str, str] = {}
    for table, placement in PLAN.items():
        if isinstance(placement, Distributed):
            anchor = anchors.setdefault(placement.group, table)
            colocate = "'none'" if anchor == table else f"'{anchor}'"
            calls.append(
                f"SELECT create_distributed_table('{table}', '{placement.column}', "
                f"colocate_with => {colocate});"
            )
    return calls
