"""What goes over the wire: request and response bodies (pydantic), with units in every name.

Points are integers, money is integer fen, times are ISO 8601 with a zone. Requests are in
``_in`` (each refuses unknown fields), responses in ``_out``: a response model reads its fields
by name from a service's plain value (``OrderOut.model_validate(order)``), and the few answers
whose shape differs from the value on purpose have one named function each (``version_out``,
``member_for_merchant``, ``liabilities_out``, ``day_out``), so a service never knows about HTTP
and no serializer decides anything (a rule version's linter findings come from
``jifen.app.rulebook.view``). Lists are ``Page[T]``, one generic page, named ``OrderPage`` and so
on in the OpenAPI document as before.

Limits are imported, not restated (``jifen.api._types``): the id pattern is the ledger's
``ID_PATTERN``; statuses are the services' enums. Money is the one place the API is tighter than
the ledger: ``MAX_REQUEST_FEN`` (10^12 fen a request) is its own named bound, *asserted* against
the ledger's ``MAX_FEN`` (10^14) at import rather than derived from it, because it is part of the
published API (the document's ``maximum``): a change to the ledger must not silently move it, and
one that would leave it no headroom fails loudly.
"""

from __future__ import annotations

from jifen.api._types import ID, MAX_REQUEST_FEN, MAX_REQUEST_POINTS, Fen, Text, UtcDatetime
from jifen.api.schemas._in import (
    ClockIn,
    JobsIn,
    KycIn,
    MemberIn,
    MerchantIn,
    OrderIn,
    PublishIn,
    RedemptionIn,
    RefundIn,
    StatusIn,
    StoreIn,
    Strict,
    WithdrawIn,
)
from jifen.api.schemas._out import (
    AccountOut,
    ClockOut,
    CodeOut,
    DayOut,
    ExpiryBucketOut,
    HistoryOut,
    HistoryPage,
    LiabilitiesOut,
    LotOut,
    MemberOut,
    MerchantCreated,
    MerchantOut,
    MerchantPage,
    OrderOut,
    OrderPage,
    Page,
    Problem,
    RedemptionOut,
    RedemptionPage,
    RefundOut,
    RuleVersionOut,
    StatementOut,
    StatementPage,
    TokenOut,
    day_out,
    liabilities_out,
    member_for_merchant,
    version_out,
)

__all__ = [
    "ID",
    "MAX_REQUEST_FEN",
    "MAX_REQUEST_POINTS",
    "AccountOut",
    "ClockIn",
    "ClockOut",
    "CodeOut",
    "DayOut",
    "ExpiryBucketOut",
    "Fen",
    "HistoryOut",
    "HistoryPage",
    "JobsIn",
    "KycIn",
    "LiabilitiesOut",
    "LotOut",
    "MemberIn",
    "MemberOut",
    "MerchantCreated",
    "MerchantIn",
    "MerchantOut",
    "MerchantPage",
    "OrderIn",
    "OrderOut",
    "OrderPage",
    "Page",
    "Problem",
    "PublishIn",
    "RedemptionIn",
    "RedemptionOut",
    "RedemptionPage",
    "RefundIn",
    "RefundOut",
    "RuleVersionOut",
    "StatementOut",
    "StatementPage",
    "StatusIn",
    "StoreIn",
    "Strict",
    "Text",
    "TokenOut",
    "UtcDatetime",
    "WithdrawIn",
    "day_out",
    "liabilities_out",
    "member_for_merchant",
    "version_out",
]
