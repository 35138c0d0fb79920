"""Migrations are frozen (they spell out their tables), so nothing keeps them in step with
``tables.py`` but this test: a store built by the migrations has exactly the tables, columns,
nullability, primary keys and indexes the code declares, on every backend."""

from __future__ import annotations

from sqlalchemy import inspect

import jifen.ledger._tables  # noqa: F401  (registers the ledger tables in the metadata)
from jifen.store import make_engine, migrate
from jifen.store.tables import metadata


def test_the_migrated_schema_is_the_declared_schema(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        migrate(engine)
        found = inspect(engine)
        assert set(found.get_table_names()) - {"alembic_version"} == set(metadata.tables)
        for table in metadata.sorted_tables:
            columns = {c["name"]: c for c in found.get_columns(table.name)}
            assert set(columns) == {c.name for c in table.columns}, table.name
            for column in table.columns:
                assert columns[column.name]["nullable"] == column.nullable, (
                    table.name,
                    column.name,
                )
            pk = found.get_pk_constraint(table.name)["constrained_columns"]
            assert set(pk) == {c.name for c in table.primary_key}, table.name
            indexes = {i["name"] for i in found.get_indexes(table.name)}
            assert {i.name for i in table.indexes} <= indexes, table.name
    finally:
        engine.dispose()
