"""Referral rewards and their payouts, the store half (brief §8, docs/referrals.md): the referral
graph, rewards accrued at the end of their orders' return windows, payees, payout batches with the
income tax withheld, statements and the withholding report. It stands above ``jifen.funds`` (its
payouts go through the provider) and below ``jifen.jobs``; the decisions are
``jifen.referral``'s."""
