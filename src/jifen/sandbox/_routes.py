"""Every WeChat Pay path the sandbox answers (payments.md §1.1 and §5, rule 21), in one table.

Direct/SP paths serve ordinary merchants and service providers (``sub_mchid`` in the body or
query); 平台收付通 paths (``/v3/ecommerce/…``) share the same state and answer with that API's
field names (``status``, ``receiver_account``, ``finish``). ``/depository/…`` is the sandbox's
stand-in for a bank's 资金存管 instructions, not a WeChat path (see :mod:`._transfers`).
"""

from __future__ import annotations

from functools import partial

from jifen.sandbox import _bills, _payments, _receivers, _refunds, _returns, _splits, _transfers
from jifen.sandbox._wire import Handler

PAY = "/v3/pay/transactions"
PPAY = "/v3/pay/partner/transactions"
PS = "/v3/profitsharing"
EC = "/v3/ecommerce"
TB = "/v3/transfer/batches"
OUT_DETAIL = "details/out-detail-no/{out_detail_no}"

WIRE_ROUTES: list[tuple[str, str, Handler]] = [
    # payments
    ("POST", f"{PAY}/jsapi", partial(_payments.create, partner=False, trade_type="JSAPI")),
    ("POST", f"{PAY}/native", partial(_payments.create, partner=False, trade_type="NATIVE")),
    ("POST", f"{PPAY}/jsapi", partial(_payments.create, partner=True, trade_type="JSAPI")),
    ("POST", f"{PPAY}/native", partial(_payments.create, partner=True, trade_type="NATIVE")),
    ("GET", f"{PAY}/id/{{transaction_id}}", partial(_payments.query, partner=False)),
    ("GET", f"{PAY}/out-trade-no/{{out_trade_no}}", partial(_payments.query, partner=False)),
    ("GET", f"{PPAY}/id/{{transaction_id}}", partial(_payments.query, partner=True)),
    ("GET", f"{PPAY}/out-trade-no/{{out_trade_no}}", partial(_payments.query, partner=True)),
    ("POST", f"{PAY}/out-trade-no/{{out_trade_no}}/close", partial(_payments.close, partner=False)),
    ("POST", f"{PPAY}/out-trade-no/{{out_trade_no}}/close", partial(_payments.close, partner=True)),
    # refunds
    ("POST", "/v3/refund/domestic/refunds", partial(_refunds.apply, api="direct")),
    ("GET", "/v3/refund/domestic/refunds/{out_refund_no}", _refunds.query),
    ("POST", f"{EC}/refunds/apply", partial(_refunds.apply, api="ecommerce")),
    ("GET", f"{EC}/refunds/out-refund-no/{{out_refund_no}}", _refunds.query),
    # split receivers
    ("POST", f"{PS}/receivers/add", partial(_receivers.add, ecommerce=False)),
    ("POST", f"{PS}/receivers/delete", partial(_receivers.delete, ecommerce=False)),
    ("POST", f"{EC}/profitsharing/receivers/add", partial(_receivers.add, ecommerce=True)),
    ("POST", f"{EC}/profitsharing/receivers/delete", partial(_receivers.delete, ecommerce=True)),
    # split orders
    ("POST", f"{PS}/orders", _splits.create_direct),
    ("POST", f"{PS}/orders/unfreeze", partial(_splits.unfreeze, api="direct")),
    ("GET", f"{PS}/orders/{{out_order_no}}", partial(_splits.query, api="direct")),
    ("GET", f"{PS}/transactions/{{transaction_id}}/amounts", _splits.amounts),
    ("GET", f"{PS}/merchant-configs/{{sub_mchid}}", _splits.merchant_config),
    ("POST", f"{EC}/profitsharing/orders", _splits.create_ecommerce),
    ("GET", f"{EC}/profitsharing/orders", partial(_splits.query, api="ecommerce")),
    ("POST", f"{EC}/profitsharing/finish-order", partial(_splits.unfreeze, api="ecommerce")),
    ("GET", f"{EC}/profitsharing/orders/{{transaction_id}}/amounts", _splits.amounts),
    # split returns
    ("POST", f"{PS}/return-orders", partial(_returns.create, api="direct")),
    ("GET", f"{PS}/return-orders/{{out_return_no}}", partial(_returns.query, api="direct")),
    ("POST", f"{EC}/profitsharing/returnorders", partial(_returns.create, api="ecommerce")),
    ("GET", f"{EC}/profitsharing/returnorders", partial(_returns.query, api="ecommerce")),
    # bills
    ("GET", "/v3/bill/tradebill", partial(_bills.request_bill, kind="trade")),
    ("GET", f"{PS}/bills", partial(_bills.request_bill, kind="split")),
    ("GET", "/v3/billdownload/file", _bills.download),
    # 商家转账 to persons
    ("POST", TB, _transfers.create_batch),
    ("GET", f"{TB}/out-batch-no/{{out_batch_no}}", _transfers.query_batch),
    ("GET", f"{TB}/batch-id/{{batch_id}}", _transfers.query_batch),
    ("GET", f"{TB}/out-batch-no/{{out_batch_no}}/{OUT_DETAIL}", _transfers.query_detail),
    ("GET", f"{TB}/batch-id/{{batch_id}}/details/detail-id/{{detail_id}}", _transfers.query_detail),
    # the reserve's depository (资金存管) — not WeChat
    ("POST", "/depository/v1/payouts", _transfers.create_payout),
    ("GET", "/depository/v1/payouts/{out_payout_no}", _transfers.query_payout),
]  # fmt: skip
