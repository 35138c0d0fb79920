"""Scheduled work: releases, expiries, expiry reminders, daily settlement (idempotent per day)."""

from jifen.jobs.daily import DayResult, run_due, run_jobs, run_referrals
from jifen.jobs.errors import UntilInFuture

__all__ = ["DayResult", "UntilInFuture", "run_due", "run_jobs", "run_referrals"]
