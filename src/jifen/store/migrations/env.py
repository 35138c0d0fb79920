"""Alembic environment: runs on the connection ``jifen.store.migrate`` hands over.

No ``target_metadata``: the migrations are frozen and written by hand (they spell out their
tables); ``tests/test_migrations.py`` checks that the result is the schema the code declares."""

from alembic import context

connection = context.config.attributes["connection"]
context.configure(connection=connection, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
