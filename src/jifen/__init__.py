"""Jifen (积分): a coalition loyalty platform that is exact, tamper-evident and compliant by construction."""

__version__ = "0.1.0"
