"""The scheme lab: pure simulations of schemes Jifen refuses to run (schemes.md), and reports."""

from jifen.compliance.lab.result import Chart, LabResult

__all__ = ["Chart", "LabResult"]
