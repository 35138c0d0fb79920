"""The HTTP API: ``create_app(ctx)``."""

from jifen.api.app import create_app

__all__ = ["create_app"]
