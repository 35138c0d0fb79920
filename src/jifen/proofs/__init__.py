"""Proofs for auditors (issue 15): the audit export and its verification, the shell."""
