"""Signed checkpoints of the points ledger (issue 15): what a kept one checks history by."""
