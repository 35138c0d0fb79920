"""Scheduled work: releases, expiries, expiry reminders, daily settlement (idempotent per day)."""

from jifen.jobs.daily import DayResult, JobsError, run_due, run_jobs

__all__ = ["DayResult", "JobsError", "run_due", "run_jobs"]
