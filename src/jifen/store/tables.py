"""The tables of the alliance around the ledger (SQLAlchemy Core), and the one ``metadata`` and
time type every table uses. The ledger's own tables are ``jifen.ledger._tables``: only the
ledger reads or writes them. Alembic migrations in ``migrations/`` create both (frozen: they spell
out their tables, so editing these never rewrites what an old migration creates).

Why this module is long: it is the one declaration of the schema outside the ledger, which
``tests/test_migrations.py`` and ``tests/test_scaling_schema.py`` compare table by table; one
list read top to bottom beats tables scattered over the packages that write them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Dialect,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in and out, on PostgreSQL (timestamptz) and SQLite (naive text) alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData()

# -- the alliance around the ledger (issue 3): rules, merchants, members, billing, jobs ------------

rule_versions = Table(
    "rule_versions",
    metadata,
    Column("number", Integer, primary_key=True, autoincrement=False),
    Column("document", Text, nullable=False),  # canonical JSON of the rule document
    Column("created_at", UTCDateTime, nullable=False),
    Column("published_at", UTCDateTime, nullable=True),  # None: a draft
    Column("effective_at", UTCDateTime, nullable=True),
    Column("reason", Text, nullable=False),
    Column("diff_text", Text, nullable=False),
    Column("withdrawn_at", UTCDateTime, nullable=True),  # an announced version called back
    Column("withdraw_reason", Text, nullable=True),
)

merchants = Table(
    "merchants",
    metadata,
    Column("merchant_id", String(32), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("category", String(32), nullable=False),
    Column("status", String(16), nullable=False),  # active | suspended | closed
    Column("kyc", Text, nullable=False),  # JSON: legal name, licence number, contact
    Column("stores", Text, nullable=False),  # JSON list of {store_id, name, city}
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("key_hash", String(64), primary_key=True),  # sha256 of the key; the key is shown once
    Column("role", String(16), nullable=False),  # operator | merchant | auditor
    Column("merchant_id", String(32), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime, nullable=True),
    # issue 12: named keys, one per store or till (jifen.alliance.keys)
    Column("key_id", String(32), nullable=True),  # what a key is listed and revoked by
    Column("name", String(64), nullable=True),  # the till's or the auditor's label
    Column("store_id", String(64), nullable=True),  # the merchant's store it is for, if one
    Column("expires_at", UTCDateTime, nullable=True),  # a rotated key's end of grace
    Index("ix_api_keys_key_id", "key_id", unique=True),
)

members = Table(
    "members",
    metadata,
    Column("member_id", String(32), primary_key=True),
    Column("phone_lookup", String(64), nullable=False, unique=True),  # keyed hash (HMAC-SHA256)
    Column("phone_sealed", Text, nullable=False),  # AES-256-GCM, see alliance/_secrets.py
    Column("created_at", UTCDateTime, nullable=False),
    # erased at the member's request (jifen.alliance.privacy): phone_lookup and phone_sealed then
    # hold random values that open nothing, and no table links the id to a person
    Column("erased_at", UTCDateTime, nullable=True),
)

consents = Table(
    "consents",
    metadata,
    Column("member_id", String(32), nullable=False),
    Column("purpose", String(32), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("granted", Integer, nullable=False),  # 1 granted, 0 withdrawn
    Column("policy_version", String(32), nullable=False),
    PrimaryKeyConstraint("member_id", "purpose", "at"),
)

redemption_codes = Table(
    "redemption_codes",
    metadata,
    Column("code_hash", String(64), primary_key=True),
    Column("member_id", String(32), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
)

settings = Table(
    "settings",
    metadata,
    # what a store knows about itself: its clock (real or simulated, and the simulated time) and
    # a check value that recognises its secret
    Column("name", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

idempotency = Table(
    "idempotency",
    metadata,
    Column("scope", String(64), nullable=False),  # operator, merchant:{id} or member:{id}
    Column("idem_key", String(128), nullable=False),
    Column("request_hash", String(64), nullable=False),
    Column("status", Integer, nullable=False),
    Column("response", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("scope", "idem_key"),
)

statements = Table(
    "statements",
    metadata,
    Column("merchant_id", String(32), nullable=False),
    Column("business_date", String(10), nullable=False),  # Asia/Shanghai, YYYY-MM-DD
    Column("points_issued", BigInteger, nullable=False),
    Column("charges_fen", BigInteger, nullable=False),
    Column("points_accepted", BigInteger, nullable=False),
    Column("reimbursements_fen", BigInteger, nullable=False),
    Column("credits_fen", BigInteger, nullable=False),
    Column("adjustments_fen", BigInteger, nullable=False),
    Column("net_fen", BigInteger, nullable=False),
    Column("collected_fen", BigInteger, nullable=False, server_default="0"),
    Column("returned_fen", BigInteger, nullable=False, server_default="0"),
    Column("entry_id", String(32), nullable=True),  # the settlement entry (None: nothing to move)
    Column("created_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("merchant_id", "business_date"),
)

job_runs = Table(
    "job_runs",
    metadata,
    Column("job", String(32), nullable=False),
    Column("business_date", String(10), nullable=False),
    Column("finished_at", UTCDateTime, nullable=False),
    Column("result", Text, nullable=False),
    PrimaryKeyConstraint("job", "business_date"),
)

reminders = Table(
    "reminders",
    metadata,
    Column("member_id", String(64), nullable=False),
    Column("business_date", String(10), nullable=False),
    Column("points", BigInteger, nullable=False),
    Column("first_expiry", UTCDateTime, nullable=False),
    Column("detail", Text, nullable=False),  # JSON list of [lot_id, points, expires_at]
    PrimaryKeyConstraint("member_id", "business_date"),
)


# -- money at the licensed provider (issue 10): who is paid, what is split, refunded, paid out -----
# Financial records: no code path deletes or rewrites their amounts; they are kept at least five
# years (docs/payments.md). A state column moves forward only (created → paid, due → finished).

provider_accounts = Table(
    "provider_accounts",
    metadata,
    Column("merchant_id", String(32), primary_key=True),
    Column("account", String(32), nullable=False, unique=True),  # the sub_mchid at the provider
    Column("max_ratio_bp", Integer, nullable=False),  # the provider's split cap for it
    Column("linked_at", UTCDateTime, nullable=False),
)

split_receivers = Table(
    "split_receivers",
    metadata,
    Column("merchant_id", String(32), nullable=False),
    Column("name", String(32), nullable=False),  # the plan's name for it
    Column("type", String(24), nullable=False),  # MERCHANT_ID | PERSONAL_OPENID
    Column("account", String(64), nullable=False),
    Column("relation", String(24), nullable=False),
    Column("registered_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("merchant_id", "name"),
)

split_plans = Table(
    "split_plans",
    metadata,
    Column("merchant_id", String(32), nullable=False),
    Column("version", Integer, nullable=False),
    Column("plan", Text, nullable=False),  # canonical JSON of the SplitPlan
    Column("filed_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("merchant_id", "version"),
)

payments = Table(
    "payments",
    metadata,
    Column("out_trade_no", String(32), primary_key=True),
    Column("merchant_id", String(32), nullable=False),
    Column("order_ref", String(64), nullable=False),
    Column("member_id", String(32), nullable=False),
    Column("amount_fen", BigInteger, nullable=False),
    Column("description", String(127), nullable=False),
    Column("method", String(16), nullable=False),
    Column("plan_version", Integer, nullable=True),  # None: no plan filed, only Jifen's parts
    Column("state", String(16), nullable=False),  # created | paid
    Column("transaction_id", String(32), nullable=True, unique=True),
    Column("paid_at", UTCDateTime, nullable=True),
    Column("pay_url", Text, nullable=True),  # code_url (native) or prepay_id (jsapi)
    Column("order_error", Text, nullable=True),  # why a paid payment earned no points
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("merchant_id", "order_ref", name="uq_payments_order"),
)

split_orders = Table(
    "split_orders",
    metadata,
    Column("out_order_no", String(64), primary_key=True),
    Column("out_trade_no", String(32), nullable=False),
    Column("merchant_id", String(32), nullable=False),
    Column("condition", String(16), nullable=False),  # paid | shipped | received | released
    Column(
        "state", String(16), nullable=False
    ),  # waiting | due | processing | finished | cancelled
    Column("due_at", UTCDateTime, nullable=True),
    Column("unfreeze", Integer, nullable=False),  # 1: the remainder goes to the merchant with it
    Column("order_id", String(64), nullable=True),  # the provider's
    Column("attempts", Integer, nullable=False),
    Column("last_error", Text, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index("ix_split_orders_trade", "out_trade_no"),
    Index("ix_split_orders_state", "state", "due_at"),
)

split_lines = Table(
    "split_lines",
    metadata,
    Column("out_order_no", String(64), nullable=False),
    Column("receiver", String(32), nullable=False),  # reserve | operator_fee | the plan's name
    Column("account", String(64), nullable=False),
    Column("type", String(24), nullable=False),
    Column("fen", BigInteger, nullable=False),
    Column("result", String(16), nullable=False),  # PLANNED | PENDING | SUCCESS | CLOSED
    Column("fail_reason", String(64), nullable=True),
    Column("detail_id", String(64), nullable=True),
    Column("finished_at", UTCDateTime, nullable=True),
    PrimaryKeyConstraint("out_order_no", "receiver"),
)

refunds = Table(
    "refunds",
    metadata,
    Column("out_refund_no", String(64), primary_key=True),
    Column("out_trade_no", String(32), nullable=False),
    Column("merchant_id", String(32), nullable=False),
    Column("refund_ref", String(64), nullable=False),
    Column("refund_fen", BigInteger, nullable=False),  # what the merchant refunds
    Column("customer_fen", BigInteger, nullable=False),  # paid back: refund − points deducted
    Column("credited_fen", BigInteger, nullable=False),  # the points' value the ledger credited
    Column("state", String(16), nullable=False),  # waiting | returning | refunding | succeeded
    Column("refund_id", String(64), nullable=True),
    Column("sent_at", UTCDateTime, nullable=True),  # when the provider took it (its bill's date)
    Column("attempts", Integer, nullable=False),
    Column("last_error", Text, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("out_trade_no", "refund_ref", name="uq_refunds_ref"),
    Index("ix_refunds_state", "state"),
)

split_returns = Table(
    "split_returns",
    metadata,
    Column("out_return_no", String(64), primary_key=True),
    Column("out_refund_no", String(64), nullable=False),
    Column("out_order_no", String(64), nullable=False),
    Column("receiver", String(32), nullable=False),
    Column("account", String(64), nullable=False),
    Column("fen", BigInteger, nullable=False),
    Column("attempt", Integer, nullable=False),  # a FAILED return is tried again under a new number
    Column("state", String(16), nullable=False),  # due | processing | succeeded | failed
    Column("return_id", String(64), nullable=True),
    Column("fail_reason", String(64), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime, nullable=True),
    Index("ix_split_returns_refund", "out_refund_no"),
)

payouts = Table(
    "payouts",
    metadata,
    Column("out_payout_no", String(64), primary_key=True),
    Column("merchant_id", String(32), nullable=False),
    Column("business_date", String(10), nullable=False),
    Column("fen", BigInteger, nullable=False),
    Column("state", String(16), nullable=False),  # due | processing | succeeded | failed
    Column("transfer_id", String(64), nullable=True),
    Column("attempts", Integer, nullable=False),
    Column("last_error", Text, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime, nullable=True),
    UniqueConstraint("merchant_id", "business_date", name="uq_payouts_day"),
)

provider_events = Table(
    "provider_events",
    metadata,
    Column("event_id", String(64), primary_key=True),  # the provider's notification id
    Column("event_type", String(48), nullable=False),
    Column("reference", String(64), nullable=False),  # out_trade_no, out_order_no, …
    Column("received_at", UTCDateTime, nullable=False),
)

reconciliations = Table(
    "reconciliations",
    metadata,
    Column("bill_date", String(10), nullable=False),
    Column("run", Integer, nullable=False),  # 1, 2, … per date: every run is kept
    Column("run_at", UTCDateTime, nullable=False),
    Column("summary", Text, nullable=False),  # JSON: counts per status, totals, items
    Column("report_csv", Text, nullable=False),
    PrimaryKeyConstraint("bill_date", "run"),
)

large_value_alerts = Table(
    "large_value_alerts",
    metadata,
    Column("subject", String(48), nullable=False),  # member:{id} | merchant:{id}
    Column("business_date", String(10), nullable=False),
    Column("line", String(32), nullable=False),  # individual_transfer | non_individual | cash
    Column("total_fen", BigInteger, nullable=False),
    Column("threshold_fen", BigInteger, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("subject", "business_date", "line"),
)


# -- operator tools and the auditor (issue 12) -----------------------------------------------------

audit_records = Table(
    "audit_records",
    metadata,
    # who looked up which member, when and why (jifen.alliance.lookup); never a phone in clear
    Column("record_id", String(32), primary_key=True),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(64), nullable=False),  # operator key:{key_id} | cli:{user}
    Column("action", String(32), nullable=False),  # member.lookup
    Column("query", String(80), nullable=False),  # member_id m… | phone 138****8000
    Column("subject", String(32), nullable=True),  # the member found (None: no one)
    Column("reason", Text, nullable=False),
    Index("ix_audit_records_at", "at", "record_id"),
)

verification_runs = Table(
    "verification_runs",
    metadata,
    # jifen verify run remotely (jifen.settlement.verifications): one at a time per store
    Column("run_id", String(32), primary_key=True),
    Column("requested_by", String(64), nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime, nullable=True),
    Column("state", String(16), nullable=False),  # running | passed | failed | abandoned
    Column("report", Text, nullable=True),  # JSON, the same as jifen verify --json
    Index("ix_verification_runs_started", "started_at", "run_id"),
)


# -- webhooks (issue 12): subscriptions and the outbox, one row per subscription and event --------

webhook_subscriptions = Table(
    "webhook_subscriptions",
    metadata,
    Column("subscription_id", String(32), primary_key=True),
    Column("merchant_id", String(32), nullable=True),  # None: the operator's (every event)
    Column("url", Text, nullable=False),
    Column("event_mask", Integer, nullable=False),  # bits of jifen.webhooks.events.EVENT_TYPES
    Column("status", String(16), nullable=False),  # active | disabled | deleted
    Column("secret_sealed", Text, nullable=False),  # AES-256-GCM under the store's secret
    Column("previous_secret_sealed", Text, nullable=True),  # still signs until previous_until
    Column("previous_until", UTCDateTime, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index("ix_webhook_subscriptions_owner", "merchant_id"),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("subscription_id", String(32), nullable=False),
    Column("event_id", String(36), nullable=False),
    Column("event_type", String(32), nullable=False),
    Column("occurred_at", UTCDateTime, nullable=False),
    Column("body", Text, nullable=False),  # the JSON sent, byte for byte on every attempt
    Column("status", String(16), nullable=False),  # pending | delivered | failed
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UTCDateTime, nullable=True),  # None once delivered or failed
    Column("last_attempt_at", UTCDateTime, nullable=True),
    Column("last_status_code", Integer, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("delivered_at", UTCDateTime, nullable=True),
    PrimaryKeyConstraint("subscription_id", "event_id"),
    Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    Index("ix_webhook_deliveries_log", "subscription_id", "occurred_at"),
)


# -- issue 13: the consoles' sign-in sessions (jifen.web.sessions) --------------------------------

web_sessions = Table(
    "web_sessions",
    metadata,
    Column("session_hash", String(64), primary_key=True),  # sha256 of the cookie; never the cookie
    Column("role", String(16), nullable=False),  # operator | merchant | auditor | member
    Column("merchant_id", String(32), nullable=True),
    Column("member_id", String(32), nullable=True),
    Column("key_id", String(32), nullable=True),  # the API key exchanged for it, if a key's
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_seen_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),  # the absolute end, whatever the activity
    Column("ended_at", UTCDateTime, nullable=True),  # signed out, or its key revoked
    Index("ix_web_sessions_key", "key_id"),
)

signin_codes = Table(
    "signin_codes",
    metadata,
    # members' one-time SMS sign-in codes (jifen.alliance.signin_codes): never the code, only its
    # keyed MAC; a row also for a phone nobody enrolled (member_id None), so both answer alike
    Column("phone_key", String(64), nullable=False),  # the phone's keyed hash, as phone_lookup
    Column("code_id", String(32), nullable=False),
    Column("member_id", String(32), nullable=True),
    Column("address_key", String(64), nullable=False),  # keyed hash of the client's address
    Column("code_mac", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("tries", Integer, nullable=False),  # wrong codes offered against it
    Column("used_at", UTCDateTime, nullable=True),
    PrimaryKeyConstraint("phone_key", "code_id"),
    Index("ix_signin_codes_phone", "phone_key", "created_at"),
    Index("ix_signin_codes_address", "address_key", "created_at"),
    Index("ix_signin_codes_created", "created_at"),
)

privacy_acks = Table(
    "privacy_acks",
    metadata,
    # the privacy notice a member was shown and acknowledged, by policy version (PII-4)
    Column("member_id", String(32), nullable=False),
    Column("policy_version", String(32), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("member_id", "policy_version"),
)


# -- issue 14: referral rewards and their payouts (jifen.promoters) -------------------------------

referral_links = Table(
    "referral_links",
    metadata,
    # a member's one referrer (a promoter: another member), bound once; changed only by the
    # operator, with a reason in audit_records
    Column("member_id", String(32), primary_key=True),
    Column("promoter_id", String(32), nullable=False),
    Column("source", String(16), nullable=False),  # scan | link | operator
    Column("bound_at", UTCDateTime, nullable=False),
    Column("changed_at", UTCDateTime, nullable=True),  # the operator's last change
    Index("ix_referral_links_promoter", "promoter_id"),
)

merchant_recruiters = Table(
    "merchant_recruiters",
    metadata,
    # a merchant's one recruiter (a promoter), rewarded on its order flow for limited months
    Column("merchant_id", String(32), primary_key=True),
    Column("promoter_id", String(32), nullable=False),
    Column("bound_at", UTCDateTime, nullable=False),  # the months count from here
    Column("changed_at", UTCDateTime, nullable=True),
    Index("ix_merchant_recruiters_promoter", "promoter_id"),
)

referral_rewards = Table(
    "referral_rewards",
    metadata,
    # one promoter's share of one referred order: pending until the order's return window ends,
    # then accrued (money owed, a ledger entry) or reversed (refunded before then, or capped to 0)
    Column("reward_id", String(160), primary_key=True),  # <earn_entry_id>:<kind>
    Column("promoter_id", String(32), nullable=False),
    Column("kind", String(16), nullable=False),  # direct | indirect | recruiter
    Column("member_id", String(32), nullable=False),  # who bought
    Column("merchant_id", String(32), nullable=False),  # where
    Column("order_ref", String(128), nullable=False),
    Column("earn_entry_id", String(64), nullable=False),
    Column("rule_version", Integer, nullable=False),  # the version in force when the order was paid
    Column("share_bp", Integer, nullable=False),
    Column("order_fen", BigInteger, nullable=False),  # the paid order amount
    Column("basis_fen", BigInteger, nullable=False),  # what is left of it at the window's end
    Column("fen", BigInteger, nullable=False),  # the reward (pending: on the whole order)
    Column("capped_fen", BigInteger, nullable=False),  # what the monthly cap took off
    Column("funded_by", String(32), nullable=False),  # operator_revenue
    Column("state", String(16), nullable=False),  # pending | accrued | reversed
    Column("paid_at", UTCDateTime, nullable=False),
    Column("due_at", UTCDateTime, nullable=False),  # the end of the order's return window
    Column("created_at", UTCDateTime, nullable=False),
    Column("settled_at", UTCDateTime, nullable=True),
    Column("month", String(7), nullable=True),  # YYYY-MM it accrued in (the cap's month)
    Column("entry_id", String(64), nullable=True),  # the accrual's ledger entry
    Column("batch_id", String(64), nullable=True),  # the payout batch that paid it
    Index("ix_referral_rewards_promoter", "promoter_id", "state"),
    Index("ix_referral_rewards_due", "state", "due_at"),
    Index("ix_referral_rewards_order", "order_ref"),
    Index("ix_referral_rewards_merchant", "merchant_id"),
)

payees = Table(
    "payees",
    metadata,
    # a promoter who may be paid: real name and ID number and the bank or wallet identity only
    # sealed (Secrets.seal_text), a hint for people, the verification and the consent
    Column("member_id", String(32), primary_key=True),
    Column("real_name_sealed", Text, nullable=False),
    Column("id_number_sealed", Text, nullable=False),
    Column("account_kind", String(16), nullable=False),  # wechat_openid | bank_card
    Column("account_sealed", Text, nullable=False),
    Column("account_hint", String(32), nullable=False),  # e.g. ****1234
    Column("verified_at", UTCDateTime, nullable=True),  # real-name verified
    Column("verification_ref", String(128), nullable=True),
    Column("consent_version", String(32), nullable=True),
    Column("consented_at", UTCDateTime, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

referral_payout_batches = Table(
    "referral_payout_batches",
    metadata,
    # one payout run for a period: its number is the provider's out_batch_no, so sending it again
    # is the same request at the provider
    Column("batch_id", String(64), primary_key=True),
    Column("period", String(7), nullable=False),  # YYYY-MM
    Column("method", String(16), nullable=False),  # per_payment | cumulative
    Column("state", String(16), nullable=False),  # due | processing | succeeded | failed
    Column("total_gross_fen", BigInteger, nullable=False),
    Column("total_tax_fen", BigInteger, nullable=False),
    Column("total_net_fen", BigInteger, nullable=False),
    Column("provider_batch_id", String(64), nullable=True),
    Column("attempts", Integer, nullable=False),
    Column("last_error", Text, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime, nullable=True),
    Index("ix_referral_payout_batches_period", "period"),
)

referral_payout_lines = Table(
    "referral_payout_lines",
    metadata,
    # one payee in one batch: gross owed, the tax withheld and how it was figured, the net paid
    Column("batch_id", String(64), nullable=False),
    Column("member_id", String(32), nullable=False),
    Column("out_detail_no", String(32), nullable=False),
    Column("tax_month", String(7), nullable=False),  # YYYY-MM the income is taxed in
    Column("method", String(16), nullable=False),
    Column("gross_fen", BigInteger, nullable=False),
    Column("taxable_fen", BigInteger, nullable=False),
    Column("rate_bp", Integer, nullable=False),
    Column("quick_deduction_fen", BigInteger, nullable=False),
    Column("tax_fen", BigInteger, nullable=False),
    Column("net_fen", BigInteger, nullable=False),
    Column("state", String(16), nullable=False),  # due | processing | succeeded | failed
    Column("detail_id", String(64), nullable=True),  # the provider's
    Column("entry_id", String(64), nullable=True),  # the payment's ledger entry, on success
    Column("finished_at", UTCDateTime, nullable=True),
    PrimaryKeyConstraint("batch_id", "member_id"),
    Index("ix_referral_payout_lines_member", "member_id", "tax_month"),
    Index("ix_referral_payout_lines_detail", "out_detail_no", unique=True),
)

# -- proof of liabilities (docs/transparency.md) -------------------------------------------------

checkpoints = Table(
    "checkpoints",
    metadata,
    # one signed checkpoint: the liability snapshot and every lane's tip at one instant; the
    # document is the canonical JSON that was signed, kept byte for byte. Append-only.
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("taken_at", UTCDateTime, nullable=False),
    Column("business_date", String(10), nullable=True, unique=True),  # the daily one
    Column("idem_key", String(128), nullable=True, unique=True),  # an on-demand one
    Column("document", Text, nullable=False),
    Column("digest", String(64), nullable=False),
    Column("signature", Text, nullable=False),  # JSON: algorithm, key_id, public_key, value
)

checkpoint_members = Table(
    "checkpoint_members",
    metadata,
    # each member's leaf in one checkpoint's tree (kept for the latest trees only)
    Column("seq", Integer, nullable=False),
    Column("member_id", String(32), nullable=False),
    Column("leaf_index", BigInteger, nullable=False),
    Column("balance", BigInteger, nullable=False),
    PrimaryKeyConstraint("seq", "member_id"),
)

checkpoint_nodes = Table(
    "checkpoint_nodes",
    metadata,
    # one checkpoint's tree, a level at a time in chunks of 40-byte records (hash ‖ sum)
    Column("seq", Integer, nullable=False),
    Column("level", Integer, nullable=False),
    Column("chunk", Integer, nullable=False),
    Column("records", LargeBinary, nullable=False),
    PrimaryKeyConstraint("seq", "level", "chunk"),
)
