"""The money path (资金): payments at a licensed provider, their splits, refunds, payouts,
reconciliation and large-value alerts — the shell around ``jifen.payments``' pure core.

Jifen never holds the money: it asks the provider for a payment to the merchant, tells it how
to split it among receivers registered beforehand, returns splits before a refund, instructs
payouts from the reserve, and checks the provider's bills against its own records every day
(docs/payments.md, docs/reconciliation.md).
"""

from jifen.funds.accounts import (
    FiledPlan,
    ProviderAccount,
    RegisteredReceiver,
    file_plan,
    link_merchant,
    plan_version,
    provider_account,
    receivers,
    register_receiver,
)
from jifen.funds.alerts import LINES_FEN, Alert, check_day, list_alerts
from jifen.funds.collect import apply_paid, create_payment, payment_of_order
from jifen.funds.config import Funds, funds_from_credentials
from jifen.funds.errors import (
    AmountMismatch,
    CredentialsInvalid,
    FundsError,
    NoProviderAccount,
    NotConfigured,
    PaidThroughProvider,
    PaymentNotFound,
    PaymentNotPaid,
    ReceiverNotRegistered,
    RefundInProgress,
    RefundTooLarge,
)
from jifen.funds.payouts import Payout, list_payouts, payouts, queue_payouts
from jifen.funds.records import (
    Payment,
    Refund,
    SplitLine,
    SplitOrder,
    get_payment,
    get_refund,
    out_trade_no_for,
    refunds_of,
)
from jifen.funds.refunds import request_refund
from jifen.funds.runner import MoneyRun, close_money_day, handle_notification, run_money
from jifen.funds.splits import fulfil

__all__ = [
    "LINES_FEN",
    "Alert",
    "AmountMismatch",
    "CredentialsInvalid",
    "FiledPlan",
    "Funds",
    "FundsError",
    "MoneyRun",
    "NoProviderAccount",
    "NotConfigured",
    "PaidThroughProvider",
    "Payment",
    "PaymentNotFound",
    "PaymentNotPaid",
    "Payout",
    "ProviderAccount",
    "ReceiverNotRegistered",
    "Refund",
    "RefundInProgress",
    "RefundTooLarge",
    "RegisteredReceiver",
    "SplitLine",
    "SplitOrder",
    "apply_paid",
    "check_day",
    "close_money_day",
    "create_payment",
    "file_plan",
    "fulfil",
    "funds_from_credentials",
    "get_payment",
    "get_refund",
    "handle_notification",
    "link_merchant",
    "list_alerts",
    "list_payouts",
    "out_trade_no_for",
    "payment_of_order",
    "payouts",
    "plan_version",
    "provider_account",
    "queue_payouts",
    "receivers",
    "refunds_of",
    "register_receiver",
    "request_refund",
    "run_money",
]
