from datetime import UTC, datetime, timedelta

from jifen.ledger import Earn, Ledger, verify


def test_an_earn_is_recorded_and_verifies(ledger: Ledger) -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    ledger.open_merchant("cafe")
    ledger.submit(Earn("e1", "alice", "cafe", "o1", 1000, 10, 1, t0, t0 + timedelta(days=7)), t0)
    assert ledger.balance("alice").pending == 10
    assert verify(ledger.engine).ok
