"""Jifen (积分): a coalition loyalty platform, exact, tamper-evident and compliant by design."""

__version__ = "0.1.0"
