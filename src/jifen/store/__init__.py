"""The store: tables, engines and migrations (the only package that knows SQL dialects)."""

from jifen.store.engine import (
    DEFAULT_DB,
    after_key,
    make_engine,
    migrate,
    normalize_url,
    ping,
    require_existing,
    retryable,
    sqlite_path,
    writer,
)
from jifen.store.errors import StoreUnavailable
from jifen.store.rows import insert_missing

__all__ = [
    "DEFAULT_DB",
    "StoreUnavailable",
    "after_key",
    "insert_missing",
    "make_engine",
    "migrate",
    "normalize_url",
    "ping",
    "require_existing",
    "retryable",
    "sqlite_path",
    "writer",
]
